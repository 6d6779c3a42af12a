using System.Numerics;

namespace NtkDsl.Cpu;

/// <summary>Elementwise kernels shared by the backend's operations and the GEMM's fused epilogue.</summary>
internal static class Elementwise<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>ds = phi(zs); vectorized for the ReLU family, a copy for Identity.</summary>
    public static void Activate(Activation activation, ReadOnlySpan<T> zs, Span<T> ds)
    {
        if (activation.IsPiecewiseLinear)
        {
            T a = T.CreateChecked(activation.A), b = T.CreateChecked(activation.B);
            int i = 0;
            if (Vector.IsHardwareAccelerated && zs.Length >= Vector<T>.Count)
            {
                Vector<T> va = new(a), vb = new(b);
                for (; i <= zs.Length - Vector<T>.Count; i += Vector<T>.Count)
                {
                    var zv = new Vector<T>(zs[i..]);
                    (Vector.ConditionalSelect(Vector.GreaterThan(zv, Vector<T>.Zero), vb, va) * zv).CopyTo(ds[i..]);
                }
            }

            for (; i < zs.Length; i++) ds[i] = zs[i] > T.Zero ? b * zs[i] : a * zs[i];
            return;
        }

        if (activation.Kind == ActivationKind.Identity)
        {
            zs.CopyTo(ds);
            return;
        }

        for (int i = 0; i < zs.Length; i++) ds[i] = T.CreateChecked(activation.Evaluate(double.CreateChecked(zs[i])));
    }
}
