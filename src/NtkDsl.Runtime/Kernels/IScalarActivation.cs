namespace NtkDsl;

/// <summary>
/// An elementwise activation given by code: phi and phi' at one point. Implemented by generated structs for
/// user-defined activations (and usable directly); <see cref="ActivationMoments.Numerical{TActivation}"/>
/// integrates it for the infinite-width kernels. A struct implementation is specialized by the JIT (no
/// delegate call per quadrature node).
/// </summary>
public interface IScalarActivation
{
    /// <summary>phi(x) and phi'(x) together.</summary>
    void Evaluate(double x, out double value, out double derivative);
}
