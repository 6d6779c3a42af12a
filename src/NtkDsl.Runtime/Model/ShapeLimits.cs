using System.Globalization;

namespace NtkDsl;

/// <summary>
/// The largest matrices the runtime holds, and the one error for shapes beyond them. A <see cref="Matrix{T}"/> is one
/// .NET array, so it has at most <see cref="Array.MaxLength"/> (2,147,483,591) elements: an N x N kernel for
/// N &gt;= 46,341, a full-mode NTK of 2 outputs at N = 40,000 or a large Jacobian does not fit. Entry points check the
/// shape of what they would allocate first and throw an <see cref="ArgumentException"/> that names the argument, the
/// shape and the limit, and says what to do instead (kernels: <c>TiledNtk.Compute</c> with an <c>onTile</c> callback,
/// which never holds the whole kernel).
/// </summary>
internal static class ShapeLimits
{
    /// <summary>Most elements of one <see cref="Matrix{T}"/>: <see cref="Array.MaxLength"/>.</summary>
    public static long MaxElements => Array.MaxLength;

    /// <summary>What to do about a kernel too large for one matrix.</summary>
    public const string KernelRemedy =
        "Compute it in tiles instead: TiledNtk.Compute(parameters, x1, x2, mode, onTile: (tile, values) => ...) hands each " +
        "tile to a callback (write it to disk or reduce it) and never holds the whole kernel.";

    /// <summary>
    /// Throws unless a <paramref name="rows"/> x <paramref name="cols"/> matrix fits in one <see cref="Matrix{T}"/>.
    /// </summary>
    /// <param name="rows">Rows of the matrix to allocate (64-bit, so that products of sizes cannot wrap).</param>
    /// <param name="cols">Columns of the matrix to allocate.</param>
    /// <param name="what">What the matrix is, for the message, e.g. "Theta(x1, x2) in Full mode".</param>
    /// <param name="paramName">The argument whose size decides the shape.</param>
    /// <param name="remedy">What to do instead, appended to the message.</param>
    /// <exception cref="ArgumentException">The matrix has more than <see cref="MaxElements"/> elements.</exception>
    public static void RequireMatrix(long rows, long cols, string what, string? paramName, string remedy)
    {
        if (rows < 0 || cols < 0 || rows * (decimal)cols <= MaxElements) return;
        throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
            $"{what} would be [{rows:N0}, {cols:N0}] = {rows * (decimal)cols:N0} elements, more than the {MaxElements:N0} one Matrix (a .NET array) holds. {remedy}"),
            paramName);
    }

    /// <summary>Throws unless the empirical NTK of <paramref name="n1"/> x <paramref name="n2"/> samples fits in one matrix.</summary>
    /// <param name="n1">Rows of x1.</param>
    /// <param name="n2">Rows of x2 (x1 when x2 is null).</param>
    /// <param name="outputs">The network's output size O.</param>
    /// <param name="mode">Result shape: Trace [N1, N2], Full [N1 O, N2 O], Diagonal [O N1, N2].</param>
    /// <param name="paramName">The argument to name (usually "x1").</param>
    public static void RequireNtk(int n1, int n2, int outputs, NtkMode mode, string paramName)
    {
        var (rows, cols) = NtkModes.ResultShape64(mode, n1, n2, outputs);
        RequireMatrix(rows, cols, string.Create(CultureInfo.InvariantCulture, $"Theta(x1, x2) in {mode} mode for N1 = {n1:N0}, N2 = {n2:N0}, O = {outputs}"),
            paramName, KernelRemedy);
    }

    /// <summary>Throws unless the per-sample Jacobian [N O, P] fits in one matrix.</summary>
    public static void RequireJacobian(int n, int outputs, int parameters, string paramName) =>
        RequireMatrix((long)n * outputs, parameters, string.Create(CultureInfo.InvariantCulture, $"The Jacobian of N = {n:N0} samples, O = {outputs}, P = {parameters:N0}"),
            paramName, "Take fewer samples per call (rows of x), or use Jvp/Vjp or the NTK, which never form the Jacobian.");
}
