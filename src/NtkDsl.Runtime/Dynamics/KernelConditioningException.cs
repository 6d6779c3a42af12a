namespace NtkDsl;

/// <summary>
/// A kernel matrix is not (numerically) positive definite where it must be, for example for the
/// Cholesky solve of kernel regression (t = infinity) or because it has clearly negative eigenvalues.
/// The message names diag_reg and <see cref="SuggestedDiagReg"/> holds a value that would fix it.
/// </summary>
public sealed class KernelConditioningException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed and what to do.</param>
    /// <param name="paramName">The kernel argument.</param>
    /// <param name="suggestedDiagReg">A diag_reg value, in the caller's units (relative or absolute), expected to make the kernel usable.</param>
    public KernelConditioningException(string message, string? paramName, double suggestedDiagReg)
        : base(message, paramName)
    {
        SuggestedDiagReg = suggestedDiagReg;
    }

    /// <summary>
    /// A diag_reg value expected to make the factorization succeed, in the same units as the
    /// diag_reg the caller passed (relative to the mean diagonal unless an absolute scale was requested).
    /// </summary>
    public double SuggestedDiagReg { get; }
}
