namespace NtkDsl;

/// <summary>
/// The exponents of one layer role in a user-chosen abc-parameterization (Yang &amp; Hu 2021), on a network declared with
/// <c>Parameterization = Parameterization.Abc</c>: one attribute per role (input, hidden, output), each exactly once. A
/// layer of that role and width n gets forward multiplier n^-a, initialization standard deviation n^-b and learning-rate
/// multiplier n^-c (times the constants sigma_w, sigma_b and 1/sqrt(d) in the multiplier or in the initialization, as
/// <see cref="NetworkAttribute.ConstantsInMultiplier"/> says). See <see cref="AbcParameterization"/> and
/// docs/parameterizations.md.
/// </summary>
/// <example>
/// muP in its muTransfer form, written out (the same network as <c>Parameterization = Parameterization.MaximalUpdate</c>):
/// <code>
/// [Network(Inputs = 4, Parameterization = Parameterization.Abc)]
/// [Abc(LayerRole.Input, a: 0, b: 0, c: -1), Abc(LayerRole.Hidden, a: 0, b: 0.5, c: 0), Abc(LayerRole.Output, a: 0, b: 1, c: 1)]
/// [Dense(512), Relu]
/// [Dense(1)]
/// public partial class MyMuP;
/// </code>
/// </example>
/// <param name="role">The role the exponents are for.</param>
/// <param name="a">Output-multiplier exponent a (finite, |a| &lt;= 4).</param>
/// <param name="b">Initialization exponent b: the variance is n^-2b (finite, |b| &lt;= 4).</param>
/// <param name="c">Learning-rate exponent c (finite, |c| &lt;= 4).</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class AbcAttribute(LayerRole role, double a, double b, double c) : Attribute
{
    /// <summary>The role the exponents are for.</summary>
    public LayerRole Role { get; } = role;

    /// <summary>Output-multiplier exponent a.</summary>
    public double A { get; } = a;

    /// <summary>Initialization exponent b.</summary>
    public double B { get; } = b;

    /// <summary>Learning-rate exponent c.</summary>
    public double C { get; } = c;
}
