using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NtkDsl.Cpu.Gemm;

/// <summary>
/// One GEMM call: C[M, N] (=, or += when <see cref="Accumulate"/>) Alpha * op(A) op(B) + BiasScale * bias[j],
/// with op(A)(i, k) = A[i * RsA + k * CsA] and op(B)(k, j) = B[k * RsB + j * CsB]: the strides express
/// every transpose variant, and packing absorbs them. Pointers must stay pinned for the call.
/// </summary>
internal unsafe struct GemmProblem<T> where T : unmanaged
{
    public int M, N, K;
    public T* A;
    public nint RsA, CsA;
    public T* B;
    public nint RsB, CsB;
    public T* C;
    public nint Ldc;
    public T Alpha;
    public bool Accumulate;
    public T* Bias;
    public T BiasScale;

    /// <summary>Compute only tiles touching the upper triangle (j &gt;= i); the caller mirrors (SYRK).</summary>
    public bool UpperOnly;

    /// <summary>When not null: also write Activated[i * Ldc + j] = phi(C[i, j]) once C is final (fused epilogue).</summary>
    public T* Activated;

    /// <summary>phi for <see cref="Activated"/>.</summary>
    public Activation Activation;
}

/// <summary>
/// A packed, cache-blocked GEMM (the BLIS loop structure): op(B) is packed in KC x NR micro-panels of a KC x NC block
/// (L2-resident), op(A) in MR x KC micro-panels of an MC x KC block; each A micro-panel stays in L1 while the B
/// micro-panels stream past it, and an MR x NR register tile is accumulated with FMA: where AVX-512 exists, two A panels
/// at once, 12 x 2 Vector512 (12 x 16 double, 12 x 32 float; 24 accumulators + 2 B vectors + 1 broadcast of the 32 zmm
/// registers, so each B vector streamed from L2 feeds 12 FMAs; measured 1.00-1.13x the 6-row tile in alternating runs),
/// with 6 x 2 Vector512 for a last odd panel; else 6 x 2 Vector256 (6 x 8 / 6 x 16; 12 accumulators + 2 B vectors + 1
/// broadcast = 15 of the 16 ymm registers), else a portable Vector&lt;T&gt; kernel. Work items are MC x NC tiles of C
/// with the whole K loop inside, handed out dynamically by <see cref="WorkerPool"/>; each thread packs into its own
/// pinned buffers, so steady-state calls allocate nothing.
/// </summary>
internal static unsafe class PackedGemm<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public const int MR = 6;

    // The widest register tile (Vector512 float: 32 columns), for the edge-tile spill buffers.
    private const int MaxWidth = 32;

    // The packed blocks have the same byte sizes for both types: A micro-panel MR * KC * sizeof(T) = 12 KiB (L1 is 32-48
    // KiB), A block MC * KC = 192 KiB and B block KC * NC = 512 KiB, together within a 1 MiB L2. (float's KC was 256, half
    // these bytes, and its NC 512: with KC 512 and NC 256 a two-thread 2000^3 float product ran 1.25-1.6x faster here.)
    public static readonly int KC = 2048 / Unsafe.SizeOf<T>();

    // Depths up to KC + KC / 4 run as one depth block (packed blocks up to 1.25x the sizes above, still within L1 / L2):
    // a depth of 288 (the Cholesky's tiles) would otherwise take a second pass over C for its last 32.
    private static readonly int KCMax = KC + KC / 4;
    public const int MC = 96;
    public const int NC = 256;

    /// <summary>Multiply-adds below which a call stays on the calling thread (waking a worker costs a few us).</summary>
    public const long ParallelThreshold = 1 << 18;

    /// <summary>Test hook: run the portable Vector&lt;T&gt; micro-kernel even where AVX2 + FMA exist.</summary>
    internal static bool ForcePortableKernel { get; set; }

    /// <summary>Test hook (and A/B switch): the 12-row AVX-512 tile; false runs every panel through the 6-row kernel.</summary>
    internal static bool UseTwelveRows { get; set; } = true;

    /// <summary>Test hook: run the Vector256 micro-kernel even where AVX-512 exists.</summary>
    internal static bool ForceAvx2Kernel { get; set; }

    [ThreadStatic] private static T[]? t_packA;
    [ThreadStatic] private static T[]? t_packB;

    private enum Kernel
    {
        Portable,
        Avx2,
        Avx512,
    }

    private static readonly bool IsFloat = typeof(T) == typeof(double) || typeof(T) == typeof(float);

    /// <summary>Whether the AVX-512 micro-kernel runs here: other kernels over a register tile pick <see cref="Simd512"/> by it.</summary>
    internal static bool UsesAvx512 => Selected == Kernel.Avx512;

    private static Kernel Selected =>
        ForcePortableKernel || !IsFloat || !(Avx2.IsSupported && Fma.IsSupported) ? Kernel.Portable
        : Avx512F.IsSupported && !ForceAvx2Kernel ? Kernel.Avx512
        : Kernel.Avx2;

    // The register tile's width: two vectors of the kernel's width (the portable kernel uses the Vector256 layout).
    private static int Width(Kernel kernel) => kernel == Kernel.Avx512 ? 2 * Vector512<T>.Count : 2 * Vector256<T>.Count;

    public static void Run(in GemmProblem<T> p, int threads)
    {
        if (p.M <= 0 || p.N <= 0) return;
        if (p.K <= 0)
        {
            EpilogueOnly(p);
            if (p.Activated != null) ActivateBlock(p, 0, p.M, 0, p.N);
            return;
        }

        int mBlocks = (p.M + MC - 1) / MC, nBlocks = (p.N + NC - 1) / NC;
        long work = (long)p.M * p.N * p.K;
        int workers = work < ParallelThreshold ? 1 : Math.Max(1, threads);
        // Work items are (column block, run of row blocks): a packed B block is reused by every row block of
        // the run instead of being packed again for each one. Two runs per worker keep the load balanced.
        int groups = Math.Min(mBlocks, Math.Max(1, (2 * workers + nBlocks - 1) / nBlocks));
        // An upper triangle's items range from full to empty: smaller runs, handed out largest first (see
        // TileJob), keep every worker busy to the end.
        if (p.UpperOnly && workers > 1) groups = Math.Min(mBlocks, Math.Max(groups, 4 * workers));
        var job = new TileJob(p, nBlocks, mBlocks, groups, Selected);
        WorkerPool.Run(job, groups * nBlocks, workers);
    }

    private readonly struct TileJob(GemmProblem<T> p, int nBlocks, int mBlocks, int groups, Kernel kernel) : IWorkItems
    {
        public void Run(int item)
        {
            // Upper triangle: the last column block (the widest band above the diagonal) first, top rows first.
            int group = p.UpperOnly ? item % groups : item / nBlocks;
            int jc = (p.UpperOnly ? nBlocks - 1 - item / groups : item % nBlocks) * NC;
            int first = (int)((long)mBlocks * group / groups), last = (int)((long)mBlocks * (group + 1) / groups);
            Tiles(p, first * MC, Math.Min(p.M, last * MC), jc, kernel);
        }
    }

    // C[icStart..icEnd, jc..jc+NC) for every depth block: B is packed once per depth block, A per row block.
    private static void Tiles(in GemmProblem<T> p, int icStart, int icEnd, int jc, Kernel kernel)
    {
        int nc = Math.Min(NC, p.N - jc);
        if (p.UpperOnly && jc + nc <= icStart) return; // every column is left of every row: strictly lower
        T* packA = Buffer(ref t_packA, MC * KCMax);
        T* packB = Buffer(ref t_packB, KCMax * NC);
        int nr = Width(kernel);
        int depth = p.K <= KCMax ? p.K : KC;
        for (int pc = 0; pc < p.K; pc += depth)
        {
            int kc = Math.Min(depth, p.K - pc);
            bool first = pc == 0;
            bool load = !first || p.Accumulate;
            T* bias = first ? p.Bias : null;
            PackB(p.B + pc * p.RsB + jc * p.CsB, p.RsB, p.CsB, kc, nc, nr, packB);
            for (int ic = icStart; ic < icEnd; ic += MC)
            {
                int mc = Math.Min(MC, icEnd - ic);
                if (p.UpperOnly && jc + nc <= ic) break; // this and every later row block is strictly lower
                PackA(p.A + ic * p.RsA + pc * p.CsA, p.RsA, p.CsA, mc, kc, packA);
                for (int ir = 0; ir < mc; ir += MR)
                {
                    int mrr = Math.Min(MR, mc - ir);
                    T* a = packA + ir * kc;
                    // AVX-512's 32 registers hold two panels' tile (12 rows): each B vector loaded from L2 feeds 12 FMAs.
                    bool twelve = kernel == Kernel.Avx512 && UseTwelveRows && ir + 2 * MR <= mc;
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int nrr = Math.Min(nr, nc - jr);
                        if (p.UpperOnly && jc + jr + nrr <= ic + ir) continue;
                        T* c = p.C + (ic + ir) * p.Ldc + jc + jr;
                        T* b = bias == null ? null : bias + jc + jr;
                        // Under UpperOnly the 12-row tile writes only where its two 6-row tiles would.
                        if (twelve && !(p.UpperOnly && jc + jr + nrr <= ic + ir + MR))
                        {
                            KernelTwelve<Simd512, Vector512<T>>(kc, a, packB + jr * kc, c, p.Ldc, p.Alpha, load, b, p.BiasScale, nrr);
                            continue;
                        }

                        switch (kernel)
                        {
                            case Kernel.Avx512:
                                KernelSimd<Simd512, Vector512<T>>(kc, a, packB + jr * kc, c, p.Ldc, p.Alpha, load, b, p.BiasScale, mrr, nrr);
                                if (twelve) KernelSimd<Simd512, Vector512<T>>(kc, a + MR * kc, packB + jr * kc, c + MR * p.Ldc, p.Ldc, p.Alpha, load, b, p.BiasScale, MR, nrr);
                                break;
                            case Kernel.Avx2:
                                KernelSimd<Simd256, Vector256<T>>(kc, a, packB + jr * kc, c, p.Ldc, p.Alpha, load, b, p.BiasScale, mrr, nrr);
                                break;
                            default:
                                KernelPortable(kc, a, packB + jr * kc, c, p.Ldc, p.Alpha, load, b, p.BiasScale, mrr, nrr);
                                break;
                        }
                    }

                    if (twelve) ir += MR;
                }
            }
        }

        if (p.Activated != null) ActivateBlock(p, icStart, icEnd, jc, nc);
    }

    // The fused epilogue: phi over a finished block of C, while it is still in cache.
    private static void ActivateBlock(in GemmProblem<T> p, int rowStart, int rowEnd, int jc, int nc)
    {
        for (int r = rowStart; r < rowEnd; r++)
        {
            var z = new ReadOnlySpan<T>(p.C + r * p.Ldc + jc, nc);
            Elementwise<T>.Activate(p.Activation, z, new Span<T>(p.Activated + r * p.Ldc + jc, nc));
        }
    }

    // A pinned, 64-byte aligned per-thread buffer, allocated once per thread.
    private static T* Buffer(ref T[]? array, int length)
    {
        int pad = 64 / sizeof(T);
        array ??= GC.AllocateUninitializedArray<T>(length + pad, pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        return (T*)((address + 63) & ~(nint)63);
    }

    // packed[panel][k][r] = op(A)(panel * MR + r, k), zero-padded to a multiple of MR rows.
    // Packing loops are jitted optimized at once (as the micro-kernels, which stackalloc, already are): until tiering
    // reaches Tier1 they ran as tier-0 / OSR code, which packed a 288 x 256 float block at 2.9 G elements/s against 9.3
    // optimized, and the first calls of every process (a test, a user's first NTK) paid that.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(T* a, nint rs, nint cs, int mc, int kc, T* dst)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int mr = Math.Min(MR, mc - ir);
            T* panel = dst + ir * kc;
            T* src = a + ir * rs;
            if (rs == 1)
            {
                // op(A) = a^T: each k reads mr contiguous elements (a full panel: two vector moves per k).
                if (mr == MR && (typeof(T) == typeof(double) || typeof(T) == typeof(float)))
                {
                    for (int k = 0; k < kc; k++) CopySix(src + k * cs, panel + k * MR);
                    continue;
                }

                for (int k = 0; k < kc; k++)
                {
                    T* s = src + k * cs;
                    T* d = panel + k * MR;
                    int r = 0;
                    for (; r < mr; r++) d[r] = s[r];
                    for (; r < MR; r++) d[r] = T.Zero;
                }
            }
            else if (mr == MR && cs == 1)
            {
                // op(A) = a (row-major, the plain product): a transposing copy that writes the panel in order. Rows 0-3
                // go as 4 x 4 blocks transposed in registers, rows 4-5 as pairs; without AVX the MR rows are read as
                // parallel scalar streams (still sequential stores, unlike the row-by-row copy below).
                int k = 0;
                if (Avx.IsSupported && IsFloat)
                {
                    for (; k <= kc - 4; k += 4)
                    {
                        TransposeFour(src + k, rs, panel + k * MR, MR);
                        T* d = panel + k * MR + 4;
                        T* s = src + 4 * rs + k;
                        for (int i = 0; i < 4; i++)
                        {
                            d[i * MR] = s[i];
                            d[i * MR + 1] = s[rs + i];
                        }
                    }
                }

                for (; k < kc; k++)
                {
                    T* d = panel + k * MR;
                    T* s = src + k;
                    for (int r = 0; r < MR; r++) d[r] = s[r * rs];
                }
            }
            else
            {
                for (int r = 0; r < mr; r++)
                {
                    T* s = src + r * rs;
                    T* d = panel + r;
                    for (int k = 0; k < kc; k++) d[k * MR] = s[k * cs];
                }

                for (int r = mr; r < MR; r++)
                    for (int k = 0; k < kc; k++) panel[k * MR + r] = T.Zero;
            }
        }
    }

    // d[0..6) = s[0..6) for float or double (MR = 6): a 4-element and a 2-element vector move.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopySix(T* s, T* d)
    {
        if (typeof(T) == typeof(double))
        {
            Vector256.Store(Vector256.Load(s), d);
            Vector128.Store(Vector128.Load(s + 4), d + 4);
        }
        else
        {
            Vector128.Store(Vector128.Load(s), d);
            Vector64.Store(Vector64.Load(s + 4), d + 4);
        }
    }

    // packed[panel][k][c] = op(B)(k, panel * nr + c), zero-padded to a multiple of nr columns.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(T* b, nint rs, nint cs, int kc, int nc, int nr, T* dst)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int w = Math.Min(nr, nc - jr);
            T* panel = dst + jr * kc;
            T* src = b + jr * cs;
            if (cs == 1)
            {
                // op(B) = b: each k copies w contiguous elements.
                for (int k = 0; k < kc; k++)
                {
                    T* s = src + k * rs;
                    T* d = panel + k * nr;
                    if (w == nr)
                    {
                        for (int c = 0; c < nr; c += Vector256<T>.Count) Vector256.Store(Vector256.Load(s + c), d + c);
                    }
                    else
                    {
                        int c = 0;
                        for (; c < w; c++) d[c] = s[c];
                        for (; c < nr; c++) d[c] = T.Zero;
                    }
                }
            }
            else
            {
                // op(B) = b^T (Gram, Linear): each column of op(B) is a contiguous row of b. Write the panel
                // in order (k outer) and read the w rows as parallel streams: sequential stores are what
                // keeps this transposing copy from costing a fifth of the product.
                if (w == nr && rs == 1)
                {
                    int k = 0;
                    if (Avx.IsSupported && IsFloat)
                    {
                        // Blocks of V x V (V = Vector256<T>.Count) transposed in registers: V loads and V stores instead of
                        // V^2 scalar moves.
                        int v = Vector256<T>.Count;
                        for (; k <= kc - v; k += v)
                            for (int c = 0; c < nr; c += v)
                                Transpose(src + c * cs + k, cs, panel + k * nr + c, nr);
                    }

                    for (; k < kc; k++)
                    {
                        T* d = panel + k * nr;
                        T* s = src + k;
                        for (int c = 0; c < nr; c++) d[c] = s[c * cs];
                    }
                }
                else
                {
                    for (int k = 0; k < kc; k++)
                    {
                        T* d = panel + k * nr;
                        int c = 0;
                        for (; c < w; c++) d[c] = src[c * cs + k * rs];
                        for (; c < nr; c++) d[c] = T.Zero;
                    }
                }
            }
        }
    }

    // d[i ld + j] = s[j cs + i] for i, j < 4.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransposeFour(T* s, nint cs, T* d, nint ld)
    {
        if (typeof(T) == typeof(double)) RegisterTranspose.Block4((double*)s, cs, (double*)d, ld);
        else RegisterTranspose.Block4((float*)s, cs, (float*)d, ld);
    }

    // d[i ld + j] = s[j cs + i] for i, j < V = Vector256<T>.Count (4 doubles, 8 floats).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(T* s, nint cs, T* d, nint ld)
    {
        if (typeof(T) == typeof(double)) RegisterTranspose.Block4((double*)s, cs, (double*)d, ld);
        else RegisterTranspose.Block8((float*)s, cs, (float*)d, ld);
    }

    /// <summary>The vector operations the micro-kernels need, for one vector width (the JIT specializes per struct).</summary>
    internal interface ISimd<TV> where TV : struct
    {
        static abstract int Count { get; }
        static abstract TV Load(T* p);
        static abstract void Store(TV v, T* p);
        static abstract TV Broadcast(T v);
        static abstract TV MultiplyAdd(TV a, TV b, TV c); // a b + c, fused
        static abstract TV Multiply(TV a, TV b);
        static abstract TV Add(TV a, TV b);
        static abstract T Sum(TV v); // across the lanes
    }

    internal readonly struct Simd256 : ISimd<Vector256<T>>
    {
        public static int Count => Vector256<T>.Count;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Load(T* p) => Vector256.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<T> v, T* p) => Vector256.Store(v, p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Broadcast(T v) => Vector256.Create(v);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Multiply(Vector256<T> a, Vector256<T> b) => a * b;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Add(Vector256<T> a, Vector256<T> b) => a + b;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Sum(Vector256<T> v) => Vector256.Sum(v);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> MultiplyAdd(Vector256<T> a, Vector256<T> b, Vector256<T> c)
        {
            // vfmadd where FMA exists (the only place the GEMM selects this width), a correct software fallback elsewhere.
            if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
            return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        }
    }

    internal readonly struct Simd512 : ISimd<Vector512<T>>
    {
        public static int Count => Vector512<T>.Count;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Load(T* p) => Vector512.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<T> v, T* p) => Vector512.Store(v, p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Broadcast(T v) => Vector512.Create(v);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Multiply(Vector512<T> a, Vector512<T> b) => a * b;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Add(Vector512<T> a, Vector512<T> b) => a + b;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Sum(Vector512<T> v) => Vector512.Sum(v);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> MultiplyAdd(Vector512<T> a, Vector512<T> b, Vector512<T> c)
        {
            if (typeof(T) == typeof(double)) return Avx512F.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
            return Avx512F.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        }
    }

    // The 6 x 2-vector register tile: 12 accumulators + 2 B vectors + 1 broadcast (15 of the 16 ymm registers).
    private static void KernelSimd<TS, TV>(int kc, T* a, T* b, T* c, nint ldc, T alpha, bool load, T* bias, T biasScale, int mr, int nr)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int h = TS.Count;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TV c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = TS.Load(b);
            var b1 = TS.Load(b + h);
            var av = TS.Broadcast(a[0]);
            c00 = TS.MultiplyAdd(av, b0, c00);
            c01 = TS.MultiplyAdd(av, b1, c01);
            av = TS.Broadcast(a[1]);
            c10 = TS.MultiplyAdd(av, b0, c10);
            c11 = TS.MultiplyAdd(av, b1, c11);
            av = TS.Broadcast(a[2]);
            c20 = TS.MultiplyAdd(av, b0, c20);
            c21 = TS.MultiplyAdd(av, b1, c21);
            av = TS.Broadcast(a[3]);
            c30 = TS.MultiplyAdd(av, b0, c30);
            c31 = TS.MultiplyAdd(av, b1, c31);
            av = TS.Broadcast(a[4]);
            c40 = TS.MultiplyAdd(av, b0, c40);
            c41 = TS.MultiplyAdd(av, b1, c41);
            av = TS.Broadcast(a[5]);
            c50 = TS.MultiplyAdd(av, b0, c50);
            c51 = TS.MultiplyAdd(av, b1, c51);
            a += MR;
            b += 2 * h;
        }

        if (mr == MR && nr == 2 * h)
        {
            var va = TS.Broadcast(alpha);
            TV bl = default, bh = default;
            bool hasBias = bias != null;
            if (hasBias)
            {
                var bs = TS.Broadcast(biasScale);
                bl = TS.Multiply(TS.Load(bias), bs);
                bh = TS.Multiply(TS.Load(bias + h), bs);
            }

            StoreRow<TS, TV>(c, c00, c01, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + ldc, c10, c11, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 2 * ldc, c20, c21, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 3 * ldc, c30, c31, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 4 * ldc, c40, c41, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 5 * ldc, c50, c51, va, load, hasBias, bl, bh);
            return;
        }

        // Edge tile: spill the register tile and store only its valid part.
        T* tmp = stackalloc T[MR * MaxWidth];
        int w = 2 * h;
        TS.Store(c00, tmp); TS.Store(c01, tmp + h);
        TS.Store(c10, tmp + w); TS.Store(c11, tmp + w + h);
        TS.Store(c20, tmp + 2 * w); TS.Store(c21, tmp + 2 * w + h);
        TS.Store(c30, tmp + 3 * w); TS.Store(c31, tmp + 3 * w + h);
        TS.Store(c40, tmp + 4 * w); TS.Store(c41, tmp + 4 * w + h);
        TS.Store(c50, tmp + 5 * w); TS.Store(c51, tmp + 5 * w + h);
        StorePartial(tmp, w, c, ldc, alpha, load, bias, biasScale, mr, nr);
    }

    // Two packed A panels (a, a + MR kc) against one B micro-panel: 12 x 2 vectors, 24 accumulators + 2 B vectors + a
    // broadcast in the 32 AVX-512 registers. Full rows only (both panels complete); nr may be partial.
    private static void KernelTwelve<TS, TV>(int kc, T* a, T* b, T* c, nint ldc, T alpha, bool load, T* bias, T biasScale, int nr)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int h = TS.Count;
        T* a2 = a + MR * kc;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TV c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        TV c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        TV c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = TS.Load(b);
            var b1 = TS.Load(b + h);
            var av = TS.Broadcast(a[0]);
            c00 = TS.MultiplyAdd(av, b0, c00);
            c01 = TS.MultiplyAdd(av, b1, c01);
            av = TS.Broadcast(a[1]);
            c10 = TS.MultiplyAdd(av, b0, c10);
            c11 = TS.MultiplyAdd(av, b1, c11);
            av = TS.Broadcast(a[2]);
            c20 = TS.MultiplyAdd(av, b0, c20);
            c21 = TS.MultiplyAdd(av, b1, c21);
            av = TS.Broadcast(a[3]);
            c30 = TS.MultiplyAdd(av, b0, c30);
            c31 = TS.MultiplyAdd(av, b1, c31);
            av = TS.Broadcast(a[4]);
            c40 = TS.MultiplyAdd(av, b0, c40);
            c41 = TS.MultiplyAdd(av, b1, c41);
            av = TS.Broadcast(a[5]);
            c50 = TS.MultiplyAdd(av, b0, c50);
            c51 = TS.MultiplyAdd(av, b1, c51);
            av = TS.Broadcast(a2[0]);
            c60 = TS.MultiplyAdd(av, b0, c60);
            c61 = TS.MultiplyAdd(av, b1, c61);
            av = TS.Broadcast(a2[1]);
            c70 = TS.MultiplyAdd(av, b0, c70);
            c71 = TS.MultiplyAdd(av, b1, c71);
            av = TS.Broadcast(a2[2]);
            c80 = TS.MultiplyAdd(av, b0, c80);
            c81 = TS.MultiplyAdd(av, b1, c81);
            av = TS.Broadcast(a2[3]);
            c90 = TS.MultiplyAdd(av, b0, c90);
            c91 = TS.MultiplyAdd(av, b1, c91);
            av = TS.Broadcast(a2[4]);
            ca0 = TS.MultiplyAdd(av, b0, ca0);
            ca1 = TS.MultiplyAdd(av, b1, ca1);
            av = TS.Broadcast(a2[5]);
            cb0 = TS.MultiplyAdd(av, b0, cb0);
            cb1 = TS.MultiplyAdd(av, b1, cb1);
            a += MR;
            a2 += MR;
            b += 2 * h;
        }

        if (nr == 2 * h)
        {
            var va = TS.Broadcast(alpha);
            TV bl = default, bh = default;
            bool hasBias = bias != null;
            if (hasBias)
            {
                var bs = TS.Broadcast(biasScale);
                bl = TS.Multiply(TS.Load(bias), bs);
                bh = TS.Multiply(TS.Load(bias + h), bs);
            }

            StoreRow<TS, TV>(c, c00, c01, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + ldc, c10, c11, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 2 * ldc, c20, c21, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 3 * ldc, c30, c31, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 4 * ldc, c40, c41, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 5 * ldc, c50, c51, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 6 * ldc, c60, c61, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 7 * ldc, c70, c71, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 8 * ldc, c80, c81, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 9 * ldc, c90, c91, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 10 * ldc, ca0, ca1, va, load, hasBias, bl, bh);
            StoreRow<TS, TV>(c + 11 * ldc, cb0, cb1, va, load, hasBias, bl, bh);
            return;
        }

        // Edge tile: spill the register tile and store only its valid columns.
        T* tmp = stackalloc T[2 * MR * MaxWidth];
        int w = 2 * h;
        TS.Store(c00, tmp); TS.Store(c01, tmp + h);
        TS.Store(c10, tmp + w); TS.Store(c11, tmp + w + h);
        TS.Store(c20, tmp + 2 * w); TS.Store(c21, tmp + 2 * w + h);
        TS.Store(c30, tmp + 3 * w); TS.Store(c31, tmp + 3 * w + h);
        TS.Store(c40, tmp + 4 * w); TS.Store(c41, tmp + 4 * w + h);
        TS.Store(c50, tmp + 5 * w); TS.Store(c51, tmp + 5 * w + h);
        TS.Store(c60, tmp + 6 * w); TS.Store(c61, tmp + 6 * w + h);
        TS.Store(c70, tmp + 7 * w); TS.Store(c71, tmp + 7 * w + h);
        TS.Store(c80, tmp + 8 * w); TS.Store(c81, tmp + 8 * w + h);
        TS.Store(c90, tmp + 9 * w); TS.Store(c91, tmp + 9 * w + h);
        TS.Store(ca0, tmp + 10 * w); TS.Store(ca1, tmp + 10 * w + h);
        TS.Store(cb0, tmp + 11 * w); TS.Store(cb1, tmp + 11 * w + h);
        StorePartial(tmp, w, c, ldc, alpha, load, bias, biasScale, 2 * MR, nr);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TS, TV>(T* c, TV lo, TV hi, TV alpha, bool load, bool hasBias, TV bl, TV bh)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int h = TS.Count;
        if (hasBias)
        {
            lo = TS.MultiplyAdd(lo, alpha, bl);
            hi = TS.MultiplyAdd(hi, alpha, bh);
            if (load)
            {
                lo = TS.Add(lo, TS.Load(c));
                hi = TS.Add(hi, TS.Load(c + h));
            }
        }
        else if (load)
        {
            lo = TS.MultiplyAdd(lo, alpha, TS.Load(c));
            hi = TS.MultiplyAdd(hi, alpha, TS.Load(c + h));
        }
        else
        {
            lo = TS.Multiply(lo, alpha);
            hi = TS.Multiply(hi, alpha);
        }

        TS.Store(lo, c);
        TS.Store(hi, c + h);
    }

    private static void StorePartial(T* tmp, int w, T* c, nint ldc, T alpha, bool load, T* bias, T biasScale, int mr, int nr)
    {
        for (int i = 0; i < mr; i++)
        {
            T* row = c + i * ldc;
            for (int j = 0; j < nr; j++)
            {
                T v = alpha * tmp[i * w + j];
                if (bias != null) v += biasScale * bias[j];
                row[j] = load ? row[j] + v : v;
            }
        }
    }

    // Portable micro-kernel (no AVX2/FMA, e.g. Arm64): same packed layout, Vector<T> arithmetic when
    // NR is a multiple of Vector<T>.Count, scalar otherwise.
    private static void KernelPortable(int kc, T* a, T* b, T* c, nint ldc, T alpha, bool load, T* bias, T biasScale, int mr, int nr)
    {
        int w = Width(Kernel.Portable);
        T* acc = stackalloc T[MR * MaxWidth];
        new Span<T>(acc, MR * w).Clear();
        int vc = Vector<T>.Count;
        if (Vector.IsHardwareAccelerated && w % vc == 0)
        {
            for (int k = 0; k < kc; k++)
            {
                T* bk = b + k * w;
                for (int i = 0; i < MR; i++)
                {
                    var av = new Vector<T>(a[k * MR + i]);
                    T* row = acc + i * w;
                    for (int j = 0; j < w; j += vc)
                        Unsafe.WriteUnaligned(row + j, Unsafe.ReadUnaligned<Vector<T>>(row + j) + av * Unsafe.ReadUnaligned<Vector<T>>(bk + j));
                }
            }
        }
        else
        {
            for (int k = 0; k < kc; k++)
                for (int i = 0; i < MR; i++)
                {
                    T ai = a[k * MR + i];
                    for (int j = 0; j < w; j++) acc[i * w + j] += ai * b[k * w + j];
                }
        }

        StorePartial(acc, w, c, ldc, alpha, load, bias, biasScale, mr, nr);
    }

    private static void EpilogueOnly(in GemmProblem<T> p)
    {
        for (int i = 0; i < p.M; i++)
        {
            T* row = p.C + i * p.Ldc;
            for (int j = 0; j < p.N; j++)
            {
                T v = p.Bias != null ? p.BiasScale * p.Bias[j] : T.Zero;
                row[j] = p.Accumulate ? row[j] + v : v;
            }
        }
    }

    /// <summary>c[i, j] = c[j, i] for j &lt; i: completes a SYRK whose upper triangle was computed (exactly symmetric).</summary>
    public static void MirrorUpper(T* c, nint ldc, int n)
    {
        const int Block = 32; // transpose in blocks so both sides stay in cache
        for (int ib = 0; ib < n; ib += Block)
            for (int jb = 0; jb <= ib; jb += Block)
            {
                int iEnd = Math.Min(ib + Block, n), jEnd = Math.Min(jb + Block, n);
                for (int i = ib; i < iEnd; i++)
                {
                    T* row = c + i * ldc;
                    int jMax = Math.Min(jEnd, i);
                    for (int j = jb; j < jMax; j++) row[j] = c[j * ldc + i];
                }
            }
    }
}
