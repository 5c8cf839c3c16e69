namespace VfioMigration.Planner.Planning;

/// <summary>
/// Runs groups of host operations at once, each group's in the order given (mdev creates per
/// parent, VF configurations per GPU): one task per group, since libvirt and local sysfs block the
/// caller; a group stops at its first unsuccessful result. When one group throws (cancellation, the
/// host lost) the others start nothing more, and every operation in flight is awaited (not cut off:
/// one interrupted mid-write may have reached the kernel) before the exception leaves.
/// </summary>
internal static class InOrderGroups
{
    /// <returns>The result of every operation attempted, grouped; the caller orders them.</returns>
    public static async Task<IReadOnlyList<TResult>> RunAsync<TKey, TItem, TResult>(IEnumerable<IGrouping<TKey, TItem>> groups, Func<TItem, CancellationToken, Task<TResult>> run, Func<TResult, bool> succeeded, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = groups.Select(group => Task.Run(() => InOrderAsync([.. group], run, succeeded, stop, cancellationToken), CancellationToken.None)).ToList();
        // WhenAll waits for every group, and rethrows a failure in preference to the cancellations it caused.
        await Task.WhenAll(tasks).ConfigureAwait(false);
        return [.. tasks.SelectMany(t => t.Result)];
    }

    private static async Task<List<TResult>> InOrderAsync<TItem, TResult>(IReadOnlyList<TItem> items, Func<TItem, CancellationToken, Task<TResult>> run, Func<TResult, bool> succeeded, CancellationTokenSource stop, CancellationToken cancellationToken)
    {
        var results = new List<TResult>(items.Count);
        try
        {
            foreach (var item in items)
            {
                stop.Token.ThrowIfCancellationRequested();
                var result = await run(item, cancellationToken).ConfigureAwait(false);
                results.Add(result);
                if (!succeeded(result))
                {
                    break;
                }
            }

            return results;
        }
        catch
        {
            await stop.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }
}
