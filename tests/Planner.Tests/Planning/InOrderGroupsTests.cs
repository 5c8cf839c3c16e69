using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using VfioMigration.Planner.Planning;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// <see cref="InOrderGroups"/>: each group's operations in order, stopping at the first unsuccessful
/// result; when one group throws, the others start nothing more, and its exception leaves after
/// every group has stopped (docs/testing.md, "Mutation testing").
/// </summary>
[TestClass]
public sealed class InOrderGroupsTests
{
    /// <summary>The bound of every wait: a hang fails the test instead of stalling the run.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static IEnumerable<IGrouping<string, string>> Groups(params string[] items) => items.GroupBy(item => item[..1]);

    [TestMethod]
    public async Task EachGroupRunsInOrder_UntilItsFirstUnsuccessfulResult()
    {
        var started = new ConcurrentQueue<string>();

        var results = await InOrderGroups.RunAsync(
            Groups("a1", "a2", "a3", "b1", "b2"),
            (item, _) =>
            {
                started.Enqueue(item);
                return Task.FromResult(item);
            },
            result => result != "a2",
            CancellationToken.None);

        CollectionAssert.AreEqual(new[] { "a1", "a2", "b1", "b2" }, results.ToArray(), "every attempt, grouped in the order the groups came");
        CollectionAssert.AreEquivalent(new[] { "a1", "a2", "b1", "b2" }, started.ToArray(), "a3 is not started after a2 failed");
    }

    [TestMethod]
    public async Task OneGroupThrowing_StopsTheOthersBeforeTheirNextOperation_AndItsExceptionLeaves()
    {
        var failure = new InvalidOperationException("the host was lost");
        var b1Started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var rethrown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var throws = 0;
        var started = new ConcurrentQueue<string>();

        // Group a's result check throws (the first throw of the failure); its catch stops the other
        // groups, then rethrows (the second). Only then does b1 finish, so b2 must find the stop.
        void Seen(object? sender, FirstChanceExceptionEventArgs e)
        {
            if (ReferenceEquals(e.Exception, failure) && Interlocked.Increment(ref throws) == 2)
            {
                rethrown.TrySetResult();
            }
        }

        async Task<string> Run(string item, CancellationToken cancellationToken)
        {
            started.Enqueue(item);
            switch (item)
            {
                case "a1":
                    await b1Started.Task.WaitAsync(Bound, cancellationToken);
                    break;
                case "b1":
                    b1Started.SetResult();
                    await rethrown.Task.WaitAsync(Bound, cancellationToken);
                    break;
            }

            return item;
        }

        AppDomain.CurrentDomain.FirstChanceException += Seen;
        try
        {
            var thrown = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => InOrderGroups.RunAsync(Groups("a1", "a2", "b1", "b2"), Run, result => result == "a1" ? throw failure : true, CancellationToken.None));

            Assert.AreSame(failure, thrown, "the failure leaves, not the cancellation it caused");
            CollectionAssert.AreEquivalent(new[] { "a1", "b1" }, started.ToArray(), "neither group started its next operation");
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Seen;
        }
    }
}
