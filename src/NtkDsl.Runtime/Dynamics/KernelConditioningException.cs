namespace NtkDsl;

/// <summary>
/// A kernel matrix is not (numerically) positive definite where it must be, for example for the
/// Cholesky solve of kernel regression (t = infinity) or because it has clearly negative eigenvalues.
/// The message names diag_reg, <see cref="SuggestedDiagReg"/> holds a value that would fix it and, for a failed
/// Cholesky factorization, <see cref="FailedPivot"/> says where it broke down.
/// </summary>
public sealed class KernelConditioningException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed and what to do.</param>
    /// <param name="paramName">The kernel argument.</param>
    /// <param name="suggestedDiagReg">A diag_reg value, in the caller's units (relative or absolute), expected to make the kernel usable;
    /// NaN when no value in those units can (see <see cref="SuggestedDiagReg"/>).</param>
    /// <param name="failedPivot">The 0-based index of the Cholesky pivot that was not (numerically) positive, when known.</param>
    public KernelConditioningException(string message, string? paramName, double suggestedDiagReg, int? failedPivot = null)
        : base(message, paramName)
    {
        SuggestedDiagReg = suggestedDiagReg;
        FailedPivot = failedPivot;
    }

    /// <summary>The 0-based index of the Cholesky pivot that was not (numerically) positive; null when not a Cholesky failure or unknown.</summary>
    public int? FailedPivot { get; }

    /// <summary>
    /// A diag_reg value expected to make the factorization succeed, in the same units as the
    /// diag_reg the caller passed (relative to the mean diagonal unless an absolute scale was requested). NaN when no
    /// diag_reg in those units can help: a relative diag_reg multiplies the mean diagonal, so it cannot fix a kernel whose
    /// mean diagonal is zero (an all-zero kernel); the message then says to check the kernel or use an absolute scale.
    /// </summary>
    public double SuggestedDiagReg { get; }
}
