// The verified snapshots are compiled into this project (a check that accepted output compiles). Generated code
// that calls user members needs them: this is the user's side of SnapshotTests.UserDefinedActivation.
namespace Demo
{
    public partial class SwishNet
    {
        private static double Swish(double x) => x / (1 + System.Math.Exp(-x));

        private static double SwishDerivative(double x)
        {
            double s = 1 / (1 + System.Math.Exp(-x));
            return s + x * s * (1 - s);
        }
    }
}
