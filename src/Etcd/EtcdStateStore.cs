using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Mvccpb;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.State;

namespace VfioMigration.Etcd;

/// <summary>
/// The fleet <see cref="IPlannerStateStore"/>: claims and the provisioning journal in etcd v3, shared
/// by planner processes on any number of management nodes. The process holds one lease, kept alive
/// in the background; a claim is a key tied to it, made by a transaction that succeeds only when the
/// key does not exist, so two planners never both win. Journal entries and plan records carry no
/// lease: when the process dies its lease expires, its claims vanish and its plans' owner key with
/// them, so recovery sees the plans as gone. Key layout and guarantees: docs/state.md.
/// </summary>
public sealed class EtcdStateStore : IPlannerStateStore, IDisposable
{
    /// <summary>The pause before a request that timed out or found no leader is sent again.</summary>
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(100);

    /// <summary>The most operations etcd accepts in one branch of a transaction (its <c>--max-txn-ops</c> default); larger batches go in several requests.</summary>
    private const int MaxTxnOps = 128;

    private readonly EtcdClient _client;
    private readonly EtcdTransport _transport;
    private readonly EtcdStateStoreOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _keepAlive;
    private readonly Dictionary<Guid, LocalPlan> _plans = [];
    private readonly Lock _gate = new();
    private long _roundTrips;
    private int _disposed;

    /// <summary>Connects, grants this process's lease and starts keeping it alive.</summary>
    /// <param name="options">The endpoints, lease TTL, call timeout, key prefix, TLS files and credentials.</param>
    /// <exception cref="StateStoreException">etcd cannot be reached within the call timeout, or refuses the lease or the credentials; a member's certificate is refused (the message says why); the TLS or credential options are inconsistent, or a file cannot be read.</exception>
    public EtcdStateStore(EtcdStateStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Endpoints);
        if (!options.Prefix.EndsWith('/'))
        {
            throw new ArgumentException($"The key prefix '{options.Prefix}' must end with '/'.", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(options.LeaseTtl, TimeSpan.FromSeconds(1), nameof(options));
        _options = options;
        (_client, _transport) = EtcdTransport.Connect(options);
        try
        {
            // Once, before the store is handed out: a constructor cannot await.
            Lease = CallAsync((deadline, token) => _client.LeaseGrantAsync(new LeaseGrantRequest { TTL = (long)Math.Ceiling(options.LeaseTtl.TotalSeconds) }, deadline: deadline, cancellationToken: token), CancellationToken.None).GetAwaiter().GetResult().ID;
            TxnAsync([], [Put(OwnerKey(Lease), new JsonObject { ["node"] = Environment.MachineName, ["pid"] = Environment.ProcessId }.ToJsonString(), Lease)]).GetAwaiter().GetResult();
        }
        catch (StateStoreException e)
        {
            _client.Dispose();
            _transport.Dispose();
            throw _transport.Refusal is { } refusal
                ? new StateStoreException($"TLS with etcd at {options.Endpoints} failed: {refusal}; nothing is created.", e)
                : e;
        }

        _keepAlive = Task.Run(KeepAliveAsync);
    }

    /// <summary>This process's lease: its claims and the liveness of its plans last as long as it does.</summary>
    public long Lease { get; }

    /// <summary>How many requests this store has sent to etcd (each is one round trip), for measurements.</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <inheritdoc />
    public string Location => $"etcd {_options.Endpoints} (prefix {_options.Prefix})";

    /// <inheritdoc />
    public void BeginPlan(Guid plan, string guest)
    {
        lock (_gate)
        {
            Local(plan).Guest = guest;
        }
    }

    /// <inheritdoc />
    public async Task<ClaimHolder?> TryClaimAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default) =>
        (await TryClaimManyAsync(hostKey, [device], plan, cancellationToken).ConfigureAwait(false))[0];

    /// <inheritdoc />
    /// <remarks>
    /// One transaction (a nested one per device: put it if absent, else read it) claims every free
    /// device. Only when one is held: one read of the holders' records (see <see cref="ClaimsOnAsync"/>),
    /// and one more transaction for devices whose holder is gone (each conditioned on the claim's
    /// <c>mod_revision</c>, so two planners taking it over cannot both win).
    /// </remarks>
    public async Task<IReadOnlyList<ClaimHolder?>> TryClaimManyAsync(string hostKey, IReadOnlyList<string> devices, Guid plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(devices);
        cancellationToken.ThrowIfCancellationRequested();
        bool recorded;
        lock (_gate)
        {
            recorded = Local(plan).Recorded;
        }

        var results = new List<ClaimHolder?>(devices.Count);
        foreach (var chunk in devices.Chunk(MaxTxnOps - 1))
        {
            results.AddRange(await TryClaimChunkAsync(hostKey, chunk, plan).ConfigureAwait(false));
        }

        if (!recorded)
        {
            await ForgetUnusedRecordAsync(plan).ConfigureAwait(false);
        }

        return results;
    }

    /// <inheritdoc />
    public async Task<ClaimHolder?> HolderOfAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default)
    {
        var held = (await CallAsync((deadline, token) => _client.GetAsync(ClaimKey(hostKey, device), deadline: deadline, cancellationToken: token), cancellationToken).ConfigureAwait(false)).Kvs.FirstOrDefault();
        if (held is null)
        {
            return null;
        }

        var (holderPlan, holderLease) = ParseClaim(held);
        return holderPlan == plan ? null : (await EvaluateAsync(hostKey, [(device, holderPlan, holderLease)], cancellationToken).ConfigureAwait(false))[0];
    }

    /// <inheritdoc />
    /// <remarks>One range request over the host's claims; only when another plan holds one, one more read of the holders' records, owner keys and journal entries (one per <see cref="MaxTxnOps"/> keys).</remarks>
    public async Task<IReadOnlyDictionary<string, ClaimHolder>> ClaimsOnAsync(string hostKey, Guid plan, CancellationToken cancellationToken = default)
    {
        var prefix = $"{_options.Prefix}claims/{Escape(hostKey)}/";
        var others = (await CallAsync((deadline, token) => _client.GetRangeAsync(prefix, deadline: deadline, cancellationToken: token), cancellationToken).ConfigureAwait(false)).Kvs
            .Select(kv => (Device: Uri.UnescapeDataString(kv.Key.ToStringUtf8()[prefix.Length..]), Claim: ParseClaim(kv)))
            .Where(c => c.Claim.Plan != plan)
            .ToList();
        var holders = await EvaluateAsync(hostKey, [.. others.Select(c => (c.Device, c.Claim.Plan, c.Claim.Lease))], cancellationToken).ConfigureAwait(false);
        return others.Zip(holders).Where(h => h.Second is not null).ToDictionary(h => h.First.Device, h => h.Second!, StringComparer.Ordinal);
    }

    /// <inheritdoc />
    public Task ReleaseAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default) => ReleaseManyAsync(hostKey, [device], plan, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One transaction: a nested one per device deletes it only while it holds the value the plan wrote.</remarks>
    public async Task ReleaseManyAsync(string hostKey, IReadOnlyList<string> devices, Guid plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(devices);
        cancellationToken.ThrowIfCancellationRequested();
        var value = ClaimValue(plan);
        var keys = devices.Select(device => ClaimKey(hostKey, device)).ToList();
        foreach (var chunk in keys.Chunk(MaxTxnOps))
        {
            await TxnAsync([], [.. chunk.Select(key => Nested(ValueIs(key, value), [Delete(key)]))], cancellationToken: CancellationToken.None).ConfigureAwait(false);
        }

        lock (_gate)
        {
            if (_plans.TryGetValue(plan, out var local))
            {
                local.Claims.ExceptWith(keys);
            }
        }
    }

    /// <inheritdoc />
    public async Task JournalAsync(JournalEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        cancellationToken.ThrowIfCancellationRequested();
        var key = JournalKey(entry.HostKey, entry.Plan, entry.Uuid.Value);
        List<RequestOp> ops = [Put(key, JournalValue(entry)), .. RecordIfNew(entry.Plan)];
        if (entry.State == JournalState.Intent)
        {
            // The device may exist from now on: its claim (if this plan holds it) loses the lease, so it outlives
            // the process and keeps the device from other plans until recovery resolves it.
            var claim = ClaimKey(entry.HostKey, $"mdev:{entry.Uuid.Value}");
            await TxnAsync([ValueIs(claim, ClaimValue(entry.Plan))], [Put(claim, ClaimValue(entry.Plan)), .. ops], ops, CancellationToken.None).ConfigureAwait(false);
        }
        else
        {
            await TxnAsync([], ops, cancellationToken: CancellationToken.None).ConfigureAwait(false);
        }

        lock (_gate)
        {
            if (_plans.TryGetValue(entry.Plan, out var local))
            {
                local.Recorded |= ops.Count > 1;
                local.Entries[key] = entry;
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// One transaction: a nested one per intent puts its claim (without the lease: the device may
    /// exist from now on) and its entry when no plan claims the UUID. An intent whose UUID is claimed
    /// already (by this plan, a gone one or a live one) then goes as <see cref="TryClaimAsync"/> and
    /// <see cref="JournalAsync"/> do.
    /// </remarks>
    public async Task<IReadOnlyList<ClaimHolder?>> ClaimAndIntendAsync(IReadOnlyList<JournalEntry> intents, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(intents);
        cancellationToken.ThrowIfCancellationRequested();
        if (intents.Any(i => i.State != JournalState.Intent))
        {
            throw new ArgumentException("Every entry given to ClaimAndIntend is an intent.", nameof(intents));
        }

        var plans = intents.Select(i => i.Plan).Distinct().ToList();
        List<Guid> unrecorded;
        lock (_gate)
        {
            unrecorded = [.. plans.Where(plan => !Local(plan).Recorded)];
        }

        var taken = new List<JournalEntry>();
        foreach (var chunk in intents.Chunk(MaxTxnOps - plans.Count))
        {
            var records = plans.SelectMany(RecordIfNew).ToList();
            var keys = chunk.Select(i => (Claim: ClaimKey(i.HostKey, $"mdev:{i.Uuid.Value}"), Entry: JournalKey(i.HostKey, i.Plan, i.Uuid.Value))).ToList();
            var response = await TxnAsync([], [.. chunk.Zip(keys, (i, k) => Nested(Absent(k.Claim), [Put(k.Claim, ClaimValue(i.Plan)), Put(k.Entry, JournalValue(i))])), .. records], cancellationToken: CancellationToken.None).ConfigureAwait(false);
            lock (_gate)
            {
                plans.ForEach(plan => Local(plan).Recorded = true);
                foreach (var (intent, (claim, entry), nested) in chunk.Zip(keys, response.Responses))
                {
                    if (nested.ResponseTxn.Succeeded)
                    {
                        Local(intent.Plan).Claims.Add(claim);
                        Local(intent.Plan).Entries[entry] = intent;
                    }
                    else
                    {
                        taken.Add(intent);
                    }
                }
            }
        }

        // A UUID claimed already (rare: they are new): as TryClaimAsync and JournalAsync do.
        var results = new ClaimHolder?[intents.Count];
        for (var i = 0; i < intents.Count; i++)
        {
            if (taken.Contains(intents[i]))
            {
                results[i] = await TryClaimAsync(intents[i].HostKey, $"mdev:{intents[i].Uuid.Value}", intents[i].Plan, CancellationToken.None).ConfigureAwait(false);
                if (results[i] is null)
                {
                    await JournalAsync(intents[i], CancellationToken.None).ConfigureAwait(false);
                }
            }
        }

        foreach (var plan in unrecorded)
        {
            await ForgetUnusedRecordAsync(plan).ConfigureAwait(false);
        }

        return results;
    }

    /// <inheritdoc />
    public async Task CommitPlanAsync(Guid plan, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        LocalPlan local;
        lock (_gate)
        {
            local = Local(plan).Copy();
        }

        // One transaction: the record says committed, the claims lose the lease, created devices become committed.
        await TxnAsync(
            [],
            [
                Put(PlanKey(plan), PlanValue(local.Guest, committed: true)),
                .. local.Claims.Select(key => Put(key, ClaimValue(plan))),
                .. local.Entries.Where(e => e.Value.State == JournalState.Created).Select(e => Put(e.Key, JournalValue(e.Value with { State = JournalState.Committed }))),
            ],
            cancellationToken: CancellationToken.None).ConfigureAwait(false);
        lock (_gate)
        {
            var mine = Local(plan);
            mine.Recorded = true;
            foreach (var (key, entry) in local.Entries.Where(e => e.Value.State == JournalState.Created))
            {
                mine.Entries[key] = entry with { State = JournalState.Committed };
            }
        }
    }

    /// <inheritdoc />
    public async Task EndPlanAsync(Guid plan, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var state = await PlanStateAsync(plan).ConfigureAwait(false);
        var stuck = state.Entries.Where(e => e.Value.State == JournalState.RemoveFailed).Select(e => ClaimKey(e.Value.HostKey, $"mdev:{e.Value.Uuid.Value}")).ToHashSet(StringComparer.Ordinal);
        var claims = state.Claims.Where(c => !stuck.Contains(c.Key)).ToList();
        var entries = state.Entries.Where(e => e.Value.State != JournalState.RemoveFailed).Select(e => e.Key).ToList();
        await RemoveAsync(plan, claims, entries, forgetRecord: stuck.Count == 0).ConfigureAwait(false);
        lock (_gate)
        {
            if (stuck.Count == 0)
            {
                _plans.Remove(plan);
            }
            else if (_plans.TryGetValue(plan, out var local))
            {
                local.Claims.RemoveWhere(c => !stuck.Contains(c));
                foreach (var key in entries)
                {
                    local.Entries.Remove(key);
                }
            }
        }
    }

    /// <inheritdoc />
    public async Task ForgetPlanAsync(Guid plan, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var state = await PlanStateAsync(plan).ConfigureAwait(false);
        await RemoveAsync(plan, [.. state.Claims], [.. state.Entries.Keys], forgetRecord: true).ConfigureAwait(false);
        lock (_gate)
        {
            _plans.Remove(plan);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredPlan>> ListPlansAsync(CancellationToken cancellationToken = default) => (await ReadAsync(cancellationToken).ConfigureAwait(false)).Plans();

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredPlan>> PlansToRecoverAsync(string hostKey, bool includeCommitted, CancellationToken cancellationToken = default)
    {
        // One range over this host's entries; only when one is open (or committed) is everything read to see whose they are.
        var prefix = $"{_options.Prefix}journal/{Escape(hostKey)}/";
        var candidates = (await CallAsync((deadline, token) => _client.GetRangeAsync(prefix, deadline: deadline, cancellationToken: token), cancellationToken).ConfigureAwait(false)).Kvs
            .Select(kv => (Plan: ParseJournalKey(kv.Key.ToStringUtf8()).Plan, State: ParseState(Field(JsonNode.Parse(kv.Value.ToStringUtf8()), "state", kv))))
            .Where(c => c.State is JournalState.Intent or JournalState.Created or JournalState.RemoveFailed || (includeCommitted && c.State == JournalState.Committed))
            .Select(c => c.Plan)
            .ToHashSet();
        return candidates.Count == 0 ? []
            : [.. (await ReadAsync(cancellationToken).ConfigureAwait(false)).Plans().Where(p => candidates.Contains(p.Id) && (p.Owner == PlanOwnerState.Gone || (includeCommitted && p.Owner == PlanOwnerState.Committed)))];
    }

    /// <summary>Stops keeping the lease alive and revokes it: this process's uncommitted claims go at once, its unfinished plans become recoverable.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _stop.Cancel();
        try
        {
            // Waits for the keep-alive loop without rethrowing whatever ended it.
            ((IAsyncResult)_keepAlive).AsyncWaitHandle.WaitOne(_options.CallTimeout);
            // Dispose is synchronous (the console and the container dispose the store at exit): one bounded call.
            CallAsync((deadline, token) => _client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = Lease }, deadline: deadline, cancellationToken: token), CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (StateStoreException)
        {
            // Unreachable: the lease expires on its own within its TTL.
        }

        _client.Dispose();
        _transport.Dispose();
        _stop.Dispose();
    }

    private async Task KeepAliveAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                // Returns when etcd says the lease is gone; then writes tied to it fail and plans stop.
                await _client.LeaseKeepAlive(Lease, _stop.Token).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is RpcException or EndOfStreamException or IOException or InvalidOperationException)
            {
                // The member this stream went to is down or unreachable: open a new stream, through another endpoint if need be.
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Claims one chunk of devices: every free one in one transaction; for each held one, its holder,
    /// or (its holder gone and the device free) it is taken over in the next round. Bounded: a round
    /// repeats only for a claim that changed between two requests.
    /// </summary>
    private async Task<ClaimHolder?[]> TryClaimChunkAsync(string hostKey, string[] devices, Guid plan)
    {
        var value = ClaimValue(plan);
        var results = new ClaimHolder?[devices.Length];

        // Each device still to claim, with the condition its put needs: no such key, or (a gone holder's) the key as it was read.
        var pending = devices.Select((device, i) => (Index: i, Key: ClaimKey(hostKey, device), Condition: Absent(ClaimKey(hostKey, device)))).ToList();
        for (var attempt = 0; attempt < 5 && pending.Count > 0; attempt++)
        {
            // The plan's record goes with its first claim: with the claim of a device asked for alone, otherwise beside
            // the batch (a batch whose every device is held then deletes it again, see ForgetUnusedRecord).
            var record = RecordIfNew(plan);
            var alone = pending.Count == 1;
            var response = await TxnAsync([], [.. pending.Select(p => Nested(p.Condition, [Put(p.Key, value, Lease), .. alone ? record : []], [Get(p.Key)])), .. alone ? [] : record]).ConfigureAwait(false);
            var claimed = new List<string>();
            var held = new List<(int Index, string Key, KeyValue Claim, Guid Plan, long Lease)>();
            var next = new List<(int Index, string Key, Compare Condition)>();
            foreach (var (p, nested) in pending.Zip(response.Responses.Select(r => r.ResponseTxn)))
            {
                if (nested.Succeeded)
                {
                    claimed.Add(p.Key);
                }
                else if (nested.Responses[0].ResponseRange.Kvs.FirstOrDefault() is not { } kv)
                {
                    // Released between the put's condition and the read: free now.
                    next.Add((p.Index, p.Key, Absent(p.Key)));
                }
                else
                {
                    var (holderPlan, holderLease) = ParseClaim(kv);
                    if (holderPlan == plan)
                    {
                        claimed.Add(p.Key);
                    }
                    else
                    {
                        held.Add((p.Index, p.Key, kv, holderPlan, holderLease));
                    }
                }
            }

            lock (_gate)
            {
                var local = Local(plan);
                local.Recorded |= record.Count > 0 && (!alone || response.Responses[0].ResponseTxn.Succeeded);
                local.Claims.UnionWith(claimed);
            }

            var holders = await EvaluateAsync(hostKey, [.. held.Select(h => (devices[h.Index], h.Plan, h.Lease))], CancellationToken.None).ConfigureAwait(false);
            foreach (var (h, holder) in held.Zip(holders))
            {
                if (holder is null)
                {
                    // Held by a plan whose owner is gone and whose device (if any) is resolved: taken over next round, unless it changes meanwhile.
                    next.Add((h.Index, h.Key, Is(h.Key, Etcdserverpb.Compare.Types.CompareTarget.Mod, c => c.ModRevision = h.Claim.ModRevision)));
                }
                else
                {
                    results[h.Index] = holder;
                }
            }

            pending = next;
        }

        return pending.Count == 0 ? results
            : throw new StateStoreException($"The claim on {devices[pending[0].Index]} of {hostKey} in {Location} kept changing; giving up after 5 attempts.");
    }

    /// <summary>
    /// Whether each claim keeps its device from other plans: its holder, or null when the holder is gone
    /// and the claim free. One read of the holders' records, owner keys and journal entries for the
    /// devices (one per <see cref="MaxTxnOps"/> distinct keys); none when there is no claim.
    /// </summary>
    private async Task<List<ClaimHolder?>> EvaluateAsync(string hostKey, IReadOnlyList<(string Device, Guid Plan, long Lease)> claims, CancellationToken cancellationToken)
    {
        string? Journaled((string Device, Guid Plan, long Lease) claim) =>
            claim.Device.StartsWith("mdev:", StringComparison.Ordinal) ? JournalKey(hostKey, claim.Plan, claim.Device["mdev:".Length..]) : null;

        var keys = claims.SelectMany(c => (string?[])[PlanKey(c.Plan), OwnerKey(c.Lease), Journaled(c)]).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        var read = new Dictionary<string, KeyValue>(StringComparer.Ordinal);
        foreach (var chunk in keys.Chunk(MaxTxnOps))
        {
            foreach (var kv in (await TxnAsync([], [.. chunk.Select(Get)], cancellationToken: cancellationToken).ConfigureAwait(false)).Responses.SelectMany(r => r.ResponseRange.Kvs))
            {
                read[kv.Key.ToStringUtf8()] = kv;
            }
        }

        return [.. claims.Select(claim =>
        {
            var (guest, where, owner) = Describe(read.GetValueOrDefault(PlanKey(claim.Plan)), read.ContainsKey(OwnerKey(claim.Lease)));
            var holder = new ClaimHolder(claim.Plan, guest, where);
            if (owner != PlanOwnerState.Gone)
            {
                return holder;
            }

            // A gone plan's claim is free, except on a device it journaled that may still exist: that one waits for recovery.
            return Journaled(claim) is { } journaled && read.GetValueOrDefault(journaled) is { } entry
                && ParseState(Field(JsonNode.Parse(entry.Value.ToStringUtf8()), "state", entry)) is JournalState.Intent or JournalState.Created or JournalState.RemoveFailed
                ? holder with { Where = $"{where}; its device awaits recovery" }
                : null;
        })];
    }

    /// <summary>The guest, where-it-runs text and owner state from a plan record (null: none) and whether its lease's owner key exists.</summary>
    private static (string Guest, string Where, PlanOwnerState Owner) Describe(KeyValue? record, bool ownerAlive)
    {
        if (record is null)
        {
            return ("", ownerAlive ? "a live planner process" : "no owner recorded", ownerAlive ? PlanOwnerState.Alive : PlanOwnerState.Gone);
        }

        var json = JsonNode.Parse(record.Value.ToStringUtf8());
        var process = $"process {Field(json, "pid", record)} on node {Field(json, "node", record)}";
        return json?["committed"]?.GetValue<bool>() == true ? (Field(json, "guest", record), $"committed (kept) by {process}", PlanOwnerState.Committed)
            : ownerAlive ? (Field(json, "guest", record), process, PlanOwnerState.Alive)
            : (Field(json, "guest", record), $"{process}, which is gone", PlanOwnerState.Gone);
    }

    /// <summary>Deletes a plan's claims (each only while it holds the value the plan wrote), journal entries and, when asked, its record.</summary>
    private async Task RemoveAsync(Guid plan, List<KeyValuePair<string, string>> claims, List<string> entries, bool forgetRecord)
    {
        List<RequestOp> rest = [.. entries.Select(Delete), .. forgetRecord ? [Delete(PlanKey(plan))] : (RequestOp[])[]];
        if ((await TxnAsync([.. claims.Select(c => ValueIs(c.Key, c.Value))], [.. claims.Select(c => Delete(c.Key)), .. rest]).ConfigureAwait(false)).Succeeded)
        {
            return;
        }

        // Some claim is no longer the plan's (taken over after its lease expired): delete the others one by one.
        foreach (var (key, value) in claims)
        {
            await TxnAsync([ValueIs(key, value)], [Delete(key)]).ConfigureAwait(false);
        }

        await TxnAsync([], rest).ConfigureAwait(false);
    }

    /// <summary>A plan's claim keys and journal entries: what this process did for it, or (a plan of another process) what etcd holds.</summary>
    private async Task<(IReadOnlyList<KeyValuePair<string, string>> Claims, IReadOnlyDictionary<string, JournalEntry> Entries)> PlanStateAsync(Guid plan)
    {
        lock (_gate)
        {
            if (_plans.TryGetValue(plan, out var local))
            {
                return ([.. local.Claims.Select(key => KeyValuePair.Create(key, ClaimValue(plan)))], new Dictionary<string, JournalEntry>(local.Entries, StringComparer.Ordinal));
            }
        }

        var snapshot = await ReadAsync(CancellationToken.None).ConfigureAwait(false);
        return (
            [.. snapshot.Claims.Where(c => c.Plan == plan).Select(c => KeyValuePair.Create(c.Key, c.Value))],
            snapshot.Entries.Where(e => e.Value.Plan == plan).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal));
    }

    /// <summary>Everything under the prefix, in one range request.</summary>
    private async Task<Snapshot> ReadAsync(CancellationToken cancellationToken)
    {
        var snapshot = new Snapshot();
        foreach (var kv in (await CallAsync((deadline, token) => _client.GetRangeAsync(_options.Prefix, deadline: deadline, cancellationToken: token), cancellationToken).ConfigureAwait(false)).Kvs)
        {
            var key = kv.Key.ToStringUtf8()[_options.Prefix.Length..];
            var slash = key.IndexOf('/', StringComparison.Ordinal);
            var rest = slash < 0 ? "" : key[(slash + 1)..];
            switch (slash < 0 ? key : key[..slash])
            {
                case "owners":
                    snapshot.Owners.Add(rest);
                    break;
                case "plans":
                    snapshot.Records[ParseGuid(rest, kv)] = kv;
                    break;
                case "claims":
                    var (host, device) = Split2(rest, kv);
                    var (holder, _) = ParseClaim(kv);
                    snapshot.Claims.Add((kv.Key.ToStringUtf8(), host, device, holder, kv.Value.ToStringUtf8()));
                    break;
                case "journal":
                    snapshot.Entries[kv.Key.ToStringUtf8()] = ParseEntry(kv);
                    break;
                default:
                    // A key this version does not write: left alone.
                    break;
            }
        }

        return snapshot;
    }

    /// <summary>
    /// Deletes the record a batch just wrote (beside its claims, before it knew whether any would be
    /// made) for a plan that then holds nothing: every device it asked for was another plan's. A plan
    /// leaves a record only with a claim or an entry, as a single claim does.
    /// </summary>
    private async Task ForgetUnusedRecordAsync(Guid plan)
    {
        lock (_gate)
        {
            var local = Local(plan);
            if (!local.Recorded || local.Claims.Count > 0 || local.Entries.Count > 0)
            {
                return;
            }

            local.Recorded = false;
        }

        await TxnAsync([], [Delete(PlanKey(plan))]).ConfigureAwait(false);
    }

    private List<RequestOp> RecordIfNew(Guid plan)
    {
        lock (_gate)
        {
            return _plans.TryGetValue(plan, out var local) && !local.Recorded ? [Put(PlanKey(plan), PlanValue(local.Guest, committed: false))] : [];
        }
    }

    /// <summary>The plan this process runs (caller holds the gate).</summary>
    private LocalPlan Local(Guid plan)
    {
        if (!_plans.TryGetValue(plan, out var local))
        {
            _plans[plan] = local = new LocalPlan();
        }

        return local;
    }

    private string PlanValue(string guest, bool committed) => new JsonObject
    {
        ["guest"] = guest,
        ["node"] = Environment.MachineName,
        ["pid"] = Environment.ProcessId,
        ["lease"] = Lease.ToString("x16", CultureInfo.InvariantCulture),
        ["committed"] = committed,
        ["created"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
    }.ToJsonString();

    private string ClaimValue(Guid plan) => new JsonObject
    {
        ["plan"] = plan.ToString("D"),
        ["lease"] = Lease.ToString("x16", CultureInfo.InvariantCulture),
    }.ToJsonString();

    private static string JournalValue(JournalEntry entry) => new JsonObject
    {
        ["hostName"] = entry.HostName,
        ["parent"] = entry.Parent,
        ["type"] = entry.Type.Value,
        ["method"] = entry.Method switch { CreationMethod.Libvirt => "libvirt", CreationMethod.Vf => "vf", _ => "sysfs" },
        ["persistent"] = entry.Persistent,
        ["order"] = entry.Order,
        ["state"] = entry.State.ToString(),
        ["error"] = entry.Error,
    }.ToJsonString();

    private static (Guid Plan, long Lease) ParseClaim(KeyValue kv)
    {
        var json = JsonNode.Parse(kv.Value.ToStringUtf8());
        return (ParseGuid(Field(json, "plan", kv), kv), long.TryParse(Field(json, "lease", kv), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var lease) ? lease : 0);
    }

    private JournalEntry ParseEntry(KeyValue kv)
    {
        var (host, plan, uuid) = ParseJournalKey(kv.Key.ToStringUtf8());
        var json = JsonNode.Parse(kv.Value.ToStringUtf8());
        var where = $"etcd key {kv.Key.ToStringUtf8()}";
        return new JournalEntry(
            plan,
            host,
            Field(json, "hostName", kv),
            MdevUuid.Parse(uuid, where),
            Field(json, "parent", kv),
            MdevTypeId.Parse(Field(json, "type", kv), where),
            Field(json, "method", kv) switch { "libvirt" => CreationMethod.Libvirt, "vf" => CreationMethod.Vf, _ => CreationMethod.Sysfs },
            json?["persistent"]?.GetValue<bool>() == true,
            json?["order"]?.GetValue<int>() ?? 0,
            ParseState(Field(json, "state", kv)),
            json?["error"]?.GetValue<string>());
    }

    private (string Host, Guid Plan, string Uuid) ParseJournalKey(string key)
    {
        var parts = key[(_options.Prefix.Length + "journal/".Length)..].Split('/');
        return parts.Length == 3 && Guid.TryParse(parts[1], out var plan)
            ? (Uri.UnescapeDataString(parts[0]), plan, parts[2])
            : throw new StateStoreException($"The etcd key '{key}' is not a journal key of this planner.");
    }

    private static (string, string) Split2(string rest, KeyValue kv)
    {
        var parts = rest.Split('/');
        return parts.Length == 2 ? (Uri.UnescapeDataString(parts[0]), Uri.UnescapeDataString(parts[1])) : throw new StateStoreException($"The etcd key '{kv.Key.ToStringUtf8()}' is not a claim key of this planner.");
    }

    private static Guid ParseGuid(string text, KeyValue kv) =>
        Guid.TryParse(text, out var plan) ? plan : throw new StateStoreException($"The etcd key '{kv.Key.ToStringUtf8()}' names no plan.");

    private static string Field(JsonNode? json, string name, KeyValue kv)
    {
        try
        {
            return json?[name] is JsonValue value ? (value.TryGetValue<string>(out var text) ? text : value.ToJsonString()) : throw new StateStoreException($"The etcd key '{kv.Key.ToStringUtf8()}' has no '{name}'.");
        }
        catch (JsonException e)
        {
            throw new StateStoreException($"The etcd key '{kv.Key.ToStringUtf8()}' holds no JSON this planner wrote: {e.Message}", e);
        }
    }

    /// <summary>A journal state as stored: the enum member's name (<c>Intent</c>, <c>Created</c>, <c>Removed</c>, <c>RemoveFailed</c>, <c>Committed</c>).</summary>
    private static JournalState ParseState(string text) =>
        Enum.GetValues<JournalState>().Cast<JournalState?>().FirstOrDefault(state => state.ToString() == text)
            ?? throw new StateStoreException($"The state store has a journal entry in an unknown state '{text}'.");

    private string OwnerKey(long lease) => $"{_options.Prefix}owners/{lease.ToString("x16", CultureInfo.InvariantCulture)}";

    private string PlanKey(Guid plan) => $"{_options.Prefix}plans/{plan:D}";

    private string ClaimKey(string hostKey, string device) => $"{_options.Prefix}claims/{Escape(hostKey)}/{Escape(device)}";

    private string JournalKey(string hostKey, Guid plan, string uuid) => $"{_options.Prefix}journal/{Escape(hostKey)}/{plan:D}/{Escape(uuid)}";

    /// <summary>A key segment: percent-encoded, so a URI's '/' never splits it.</summary>
    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    private static RequestOp Put(string key, string value, long lease = 0) =>
        new() { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value), Lease = lease } };

    private static RequestOp Get(string key) => new() { RequestRange = new RangeRequest { Key = ByteString.CopyFromUtf8(key) } };

    /// <summary>A transaction inside a transaction (etcd 3.3 and later): its own condition and branches, so one request can decide per key.</summary>
    private static RequestOp Nested(Compare condition, IEnumerable<RequestOp> success, IEnumerable<RequestOp>? failure = null)
    {
        var nested = new TxnRequest();
        nested.Compare.Add(condition);
        nested.Success.AddRange(success);
        if (failure is not null)
        {
            nested.Failure.AddRange(failure);
        }

        return new() { RequestTxn = nested };
    }

    private static RequestOp Delete(string key) => new() { RequestDeleteRange = new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(key) } };

    private static Compare Absent(string key) => Is(key, Etcdserverpb.Compare.Types.CompareTarget.Create, c => c.CreateRevision = 0);

    private static Compare ValueIs(string key, string value) => Is(key, Etcdserverpb.Compare.Types.CompareTarget.Value, c => c.Value = ByteString.CopyFromUtf8(value));

    private static Compare Is(string key, Compare.Types.CompareTarget target, Action<Compare> set)
    {
        var compare = new Compare { Key = ByteString.CopyFromUtf8(key), Target = target, Result = Etcdserverpb.Compare.Types.CompareResult.Equal };
        set(compare);
        return compare;
    }

    /// <summary>One transaction; <paramref name="cancellationToken"/> only for one that only reads (a write, once sent, is waited for).</summary>
    private Task<TxnResponse> TxnAsync(IEnumerable<Compare> compares, IEnumerable<RequestOp> success, IEnumerable<RequestOp>? failure = null, CancellationToken cancellationToken = default)
    {
        var request = new TxnRequest();
        request.Compare.AddRange(compares);
        request.Success.AddRange(success);
        if (failure is not null)
        {
            request.Failure.AddRange(failure);
        }

        return CallAsync((deadline, token) => _client.TransactionAsync(request, deadline: deadline, cancellationToken: token), cancellationToken);
    }

    /// <summary>
    /// One request to etcd within the call timeout; every gRPC failure becomes a <see cref="StateStoreException"/>.
    /// Every request of this store can be sent twice (a claim found already the plan's counts as made,
    /// puts and deletes repeat), so one that timed out or found no leader is sent again while the call
    /// timeout lasts (so is one that met a broken connection), each attempt bounded to half of it: a cluster that lost its leader elects
    /// another within a few seconds, and a request the old leader took may never be answered.
    /// The caller's <paramref name="cancellationToken"/> (a read's) ends the wait with <see cref="OperationCanceledException"/>.
    /// </summary>
    private async Task<T> CallAsync<T>(Func<DateTime, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        var end = DateTime.UtcNow + _options.CallTimeout;
        var attempt = _options.CallTimeout / 2;
        while (true)
        {
            Interlocked.Increment(ref _roundTrips);
            var now = DateTime.UtcNow;
            try
            {
                return await call(now + attempt < end ? now + attempt : end, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
            {
                throw new OperationCanceledException("The read from etcd was cancelled.", e, cancellationToken);
            }
            catch (Exception e) when (e is RpcException { StatusCode: StatusCode.DeadlineExceeded or StatusCode.Unavailable or StatusCode.Internal } or OperationCanceledException && DateTime.UtcNow + RetryPause < end)
            {
                // The client reports a deadline as OperationCanceledException, and a transport failure while a call starts
                // (a connection closed under it) as Internal.
                await Task.Delay(RetryPause, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.Status.Detail.Contains("lease not found", StringComparison.Ordinal))
            {
                throw new StateStoreException($"This planner's etcd lease {Lease:x16} has expired (etcd at {_options.Endpoints} was out of reach for longer than {_options.LeaseTtl.TotalSeconds:0.#} s): its claims are gone, so the plan stops.", e);
            }
            catch (RpcException e)
            {
                throw new StateStoreException($"The planner's state store, etcd at {_options.Endpoints}, cannot be reached or refused the request within {_options.CallTimeout.TotalSeconds:0.#} s ({e.StatusCode}: {e.Status.Detail}); nothing more is created.", e);
            }
            catch (OperationCanceledException e)
            {
                throw new StateStoreException($"The planner's state store, etcd at {_options.Endpoints}, did not answer within {_options.CallTimeout.TotalSeconds:0.#} s; nothing more is created.", e);
            }
        }
    }

    /// <summary>What this process wrote for a plan it runs: its claim keys and its journal entries by key.</summary>
    private sealed class LocalPlan
    {
        public string Guest { get; set; } = "";

        public bool Recorded { get; set; }

        public HashSet<string> Claims { get; init; } = new(StringComparer.Ordinal);

        public Dictionary<string, JournalEntry> Entries { get; init; } = new(StringComparer.Ordinal);

        public LocalPlan Copy() => new() { Guest = Guest, Recorded = Recorded, Claims = new(Claims, StringComparer.Ordinal), Entries = new(Entries, StringComparer.Ordinal) };
    }

    /// <summary>Everything under the prefix at one revision.</summary>
    private sealed class Snapshot
    {
        public HashSet<string> Owners { get; } = new(StringComparer.Ordinal);

        public Dictionary<Guid, KeyValue> Records { get; } = [];

        public List<(string Key, string Host, string Device, Guid Plan, string Value)> Claims { get; } = [];

        public Dictionary<string, JournalEntry> Entries { get; } = new(StringComparer.Ordinal);

        public IReadOnlyList<StoredPlan> Plans()
        {
            var ids = Records.Keys.Concat(Claims.Select(c => c.Plan)).Concat(Entries.Values.Select(e => e.Plan)).Distinct().Order();
            return [.. ids.Select(id =>
            {
                var record = Records.GetValueOrDefault(id);
                var lease = record is null ? null : JsonNode.Parse(record.Value.ToStringUtf8())?["lease"]?.GetValue<string>();
                var (guest, where, owner) = Describe(record, lease is not null && Owners.Contains(lease));
                return new StoredPlan(
                    id,
                    guest,
                    where,
                    owner,
                    [.. Entries.Values.Where(e => e.Plan == id).OrderBy(e => e.Order).ThenBy(e => e.Uuid.Value, StringComparer.Ordinal)],
                    [.. Claims.Where(c => c.Plan == id).Select(c => KeyValuePair.Create(c.Host, c.Device)).OrderBy(c => c.Key, StringComparer.Ordinal).ThenBy(c => c.Value, StringComparer.Ordinal)]);
            })];
        }
    }
}
