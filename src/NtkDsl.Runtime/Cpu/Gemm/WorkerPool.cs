using System.Runtime.ExceptionServices;

namespace NtkDsl.Cpu.Gemm;

/// <summary>A job split into numbered items that any participating thread may run, in any order.</summary>
internal interface IWorkItems
{
    void Run(int item);
}

/// <summary>
/// A tiny persistent worker pool for the CPU kernels. Parallel.For allocates its closure, options and
/// partitioner state on every call; this pool allocates nothing once its threads exist. The calling
/// thread takes part, items are handed out with an atomic counter (dynamic load balancing), and one
/// job runs at a time: a caller that finds the pool busy (another thread dispatching) runs its job
/// serially instead of waiting, so concurrent callers never deadlock or queue behind each other.
/// </summary>
internal static class WorkerPool
{
    private static readonly object s_dispatch = new();
    private static readonly object s_gate = new();
    private static readonly object s_done = new();
    private static Thread[] s_threads = [];
    private static int s_generation;
    private static int s_participants;
    private static int s_pending;
    private static WorkBase? s_work;

    /// <summary>Runs items [0, items) of <paramref name="job"/> on up to <paramref name="threads"/> threads (the caller included).</summary>
    public static void Run<TJob>(in TJob job, int items, int threads) where TJob : struct, IWorkItems
    {
        threads = Math.Min(Math.Min(threads, items), Environment.ProcessorCount);
        if (threads <= 1 || !Monitor.TryEnter(s_dispatch))
        {
            for (int i = 0; i < items; i++) job.Run(i);
            return;
        }

        var holder = Holder<TJob>.Instance;
        try
        {
            EnsureThreads(threads - 1);
            holder.Job = job;
            holder.Reset(items);
            Volatile.Write(ref s_pending, threads - 1);
            lock (s_gate)
            {
                s_work = holder;
                s_participants = threads - 1;
                s_generation++;
                Monitor.PulseAll(s_gate);
            }

            holder.Drain();
            WaitForWorkers();
            holder.Rethrow();
        }
        finally
        {
            holder.Job = default; // drop array references so the pool does not keep them alive
            s_work = null;
            Monitor.Exit(s_dispatch);
        }
    }

    private static void WaitForWorkers()
    {
        // Workers usually finish within microseconds of the caller; spin briefly before blocking.
        for (int spin = 0; spin < 64 && Volatile.Read(ref s_pending) != 0; spin++) Thread.SpinWait(20);
        if (Volatile.Read(ref s_pending) == 0) return;
        lock (s_done)
        {
            while (Volatile.Read(ref s_pending) != 0) Monitor.Wait(s_done);
        }
    }

    private static void EnsureThreads(int count)
    {
        if (s_threads.Length >= count) return;
        var threads = new Thread[count];
        Array.Copy(s_threads, threads, s_threads.Length);
        for (int i = s_threads.Length; i < count; i++)
        {
            int index = i;
            int seen;
            lock (s_gate) seen = s_generation; // a new worker must not run a job dispatched before it existed
            threads[i] = new Thread(() => WorkerLoop(index, seen)) { IsBackground = true, Name = $"NtkDsl CPU worker {index}" };
            threads[i].Start();
        }

        s_threads = threads;
    }

    private static void WorkerLoop(int index, int seen)
    {
        while (true)
        {
            WorkBase? work;
            lock (s_gate)
            {
                while (s_generation == seen) Monitor.Wait(s_gate);
                seen = s_generation;
                work = index < s_participants ? s_work : null;
            }

            if (work is null) continue;
            work.Drain();
            if (Interlocked.Decrement(ref s_pending) == 0)
            {
                lock (s_done) Monitor.PulseAll(s_done);
            }
        }
    }

    private abstract class WorkBase
    {
        private int _next;
        private int _count;
        private ExceptionDispatchInfo? _error;

        public void Reset(int count)
        {
            _count = count;
            _error = null;
            Volatile.Write(ref _next, 0);
        }

        public void Drain()
        {
            try
            {
                while (true)
                {
                    int item = Interlocked.Increment(ref _next) - 1;
                    if (item >= _count) return;
                    RunItem(item);
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
                Volatile.Write(ref _next, _count); // stop handing out items
            }
        }

        public void Rethrow() => _error?.Throw();

        protected abstract void RunItem(int item);
    }

    // One cached holder per job type: the job struct is copied into it, so dispatch never boxes.
    private sealed class Holder<TJob> : WorkBase where TJob : struct, IWorkItems
    {
        public static readonly Holder<TJob> Instance = new();

        public TJob Job;

        protected override void RunItem(int item) => Job.Run(item);
    }
}
