using System.Numerics;
using NtkDsl.Cpu;
using NtkDsl.Cpu.Gemm;

namespace NtkDsl.Tests.Cpu;

/// <summary>
/// The CPU backend's matrix products against a naive triple loop, on sizes that are 1, odd, and
/// non-multiples of the register tiles (6 x 8 / 6 x 16 Vector256, 6 x 16 / 6 x 32 and 12 x 16 / 12 x 32 Vector512) and cache blocks (MC 96, KC 256 / 512 for double / float with depths up to 320 / 640 in one block, NC 256);
/// every transpose variant, both element types, 1 and 2 threads, AVX-512, AVX2 and portable micro-kernels.
/// Errors are measured against sum_k |a_ik b_kj| (the natural scale of a rounded dot product).
/// </summary>
[Collection(SerialCollection.Name)]
public class GemmTests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 1, 7, 1 }, { 7, 1, 33 }, { 7, 7, 7 }, { 33, 33, 33 }, { 6, 8, 256 },
        { 33, 257, 7 }, { 257, 33, 257 }, { 97, 259, 300 }, { 13, 515, 33 }, { 200, 3, 513 },
        { 100, 97, 320 }, { 61, 45, 321 }, // the deepest single depth block (KC + KC / 4) and one more: 256 + 65
        { 700, 530, 600 }, // many row blocks per run, several depth blocks (double), parallel
        { 37, 29, 640 }, { 19, 23, 641 }, // float's deepest single depth block (KC + KC / 4 = 640) and one more
        { 150, 300, 1300 }, // several depth blocks in float too
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Double_products_match_naive(int m, int n, int k) => CheckAll<double>(m, n, k, 1e-12);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Float_products_match_naive(int m, int n, int k) => CheckAll<float>(m, n, k, 1e-5);

    [Theory]
    [InlineData(33, 7)]
    [InlineData(257, 33)]
    [InlineData(97, 259)]
    public void Gram_of_a_tensor_with_itself_is_exactly_symmetric(int n, int k)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            var be = new CpuBackend<double>(threads);
            var a = Random<double>(n, k, 5);
            var c = new CpuTensor<double>(new double[n * n], 0, n, n);
            be.Gram(a, a, c);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    Assert.Equal(c.Array[i * n + j], c.Array[j * n + i]);
            AssertClose(c, Naive(a, 0, a, 1, n, n, k, 1.0, null, 0, null), 1e-12);
        }
    }

    private static void CheckAll<T>(int m, int n, int k, double tol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The machine's best kernel (AVX-512 where it exists), the Vector256 one, and the portable one.
        // With AVX-512 also without its 12-row tile (every panel through the 6-row one).
        foreach (var (portable, avx2, twelve) in new[] { (false, false, true), (false, false, false), (false, true, true), (true, false, true) })
        {
            PackedGemm<T>.ForcePortableKernel = portable;
            PackedGemm<T>.ForceAvx2Kernel = avx2;
            PackedGemm<T>.UseTwelveRows = twelve;
            try
            {
                foreach (int threads in new[] { 1, 2 }) CheckVariants<T>(m, n, k, tol, new CpuBackend<T>(threads));
            }
            finally
            {
                PackedGemm<T>.ForcePortableKernel = false;
                PackedGemm<T>.ForceAvx2Kernel = false;
                PackedGemm<T>.UseTwelveRows = true;
            }
        }
    }

    private static void CheckVariants<T>(int m, int n, int k, double tol, CpuBackend<T> be) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // MatMul: a [m, k] b [k, n], operands at non-zero offsets.
        var a = Random<T>(m, k, 1, offset: 3);
        var b = Random<T>(k, n, 2, offset: 5);
        var dst = Random<T>(m, n, 3, offset: 1);
        be.MatMul(a, b, 0.7, dst);
        AssertClose(dst, Naive(a, 0, b, 0, m, n, k, 0.7, null, 0, null), tol);

        // MatMulTransposeA: a [k, m], b [k, n]; overwrite, then accumulate onto the previous result.
        var at = Random<T>(k, m, 4, offset: 2);
        be.MatMulTransposeA(at, b, -1.3, dst, false);
        var expected = Naive(at, 2, b, 0, m, n, k, -1.3, null, 0, null);
        AssertClose(dst, expected, tol);
        var previous = Copy(dst);
        be.MatMulTransposeA(at, b, 0.5, dst, true);
        AssertClose(dst, Naive(at, 2, b, 0, m, n, k, 0.5, null, 0, previous), tol);

        // Gram: a [m, k], c [n, k] -> a c^T.
        var c = Random<T>(n, k, 6, offset: 7);
        var gram = Random<T>(m, n, 7);
        be.Gram(a, c, gram);
        AssertClose(gram, Naive(a, 0, c, 1, m, n, k, 1.0, null, 0, null), tol);

        // Linear: x [m, k], W [n, k], bias [1, n] inside a flat parameter vector; then += as product and bias, then no bias.
        var flat = Random<T>(1, n * k + n + 4, 8);
        var w = new CpuTensor<T>(flat.Array, flat.Offset + 2, n, k);
        var bias = new CpuTensor<T>(flat.Array, flat.Offset + 2 + n * k, 1, n);
        var lin = Random<T>(m, n, 9);
        be.Linear(a, w, bias, 0.9, 0.2, lin);
        AssertClose(lin, Naive(a, 0, w, 1, m, n, k, 0.9, bias, 0.2, null), tol);
        previous = Copy(lin);
        be.MatMulTransposeB(a, w, -0.4, lin, true);
        be.AddBias(bias, 1, 1.5, lin);
        AssertClose(lin, Naive(a, 0, w, 1, m, n, k, -0.4, bias, 1.5, previous), tol);
        be.MatMulTransposeB(a, w, 1.1, lin, false);
        AssertClose(lin, Naive(a, 0, w, 1, m, n, k, 1.1, null, 0, null), tol);
    }

    // Reference in double with its error scale: value = alpha * sum op(A) op(B) + bs * bias + previous,
    // scale = |alpha| sum |op(A)| |op(B)| + |bs bias| + |previous|. aMode 0: A [m, k]; 2: A stored [k, m].
    // bMode 0: B [k, n]; 1: B stored [n, k].
    private static (double[] Value, double[] Scale) Naive<T>(CpuTensor<T> a, int aMode, CpuTensor<T> b, int bMode, int m, int n, int k,
        double alpha, CpuTensor<T>? bias, double bs, double[]? previous) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var value = new double[m * n];
        var scale = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = double.CreateChecked(aMode == 0 ? a.Row(i)[p] : a.Row(p)[i]);
                    double y = double.CreateChecked(bMode == 0 ? b.Row(p)[j] : b.Row(j)[p]);
                    sum += x * y;
                    abs += Math.Abs(x * y);
                }

                double v = alpha * sum, s = Math.Abs(alpha) * abs;
                if (bias is { } bv)
                {
                    double bj = bs * double.CreateChecked(bv.Row(0)[j]);
                    v += bj;
                    s += Math.Abs(bj);
                }

                if (previous is not null)
                {
                    v += previous[i * n + j];
                    s += Math.Abs(previous[i * n + j]);
                }

                value[i * n + j] = v;
                scale[i * n + j] = s;
            }

        return (value, scale);
    }

    private static void AssertClose<T>(CpuTensor<T> actual, (double[] Value, double[] Scale) expected, double tol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var span = actual.Span;
        for (int i = 0; i < span.Length; i++)
        {
            double got = double.CreateChecked(span[i]);
            double err = Math.Abs(got - expected.Value[i]);
            Assert.True(err <= tol * expected.Scale[i] + 1e-300,
                $"[{i / actual.Cols}, {i % actual.Cols}] of [{actual.Rows}, {actual.Cols}]: got {got}, expected {expected.Value[i]} (error {err:G3}, scale {expected.Scale[i]:G3}).");
        }
    }

    private static double[] Copy<T>(CpuTensor<T> t) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var span = t.Span;
        var r = new double[span.Length];
        for (int i = 0; i < r.Length; i++) r[i] = double.CreateChecked(span[i]);
        return r;
    }

    internal static CpuTensor<T> Random<T>(int rows, int cols, int seed, int offset = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(seed);
        var array = new T[offset + rows * cols + 3];
        for (int i = 0; i < array.Length; i++) array[i] = T.CreateChecked(2 * random.NextDouble() - 1);
        return new CpuTensor<T>(array, offset, rows, cols);
    }
}

/// <summary>Tests that measure process-wide allocation or toggle kernel switches run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial CPU kernel tests";
}
