using Consumer;
using NtkDsl;

// Checked by tests/consumer/run.sh: the generated constants, and the layer-by-layer NTK against explicit J J^T.
var theta = TinyNet.InitializeParameters<double>(seed: 7);
var x = Matrix<double>.FromArray(new double[,] { { 1, 0, -0.5 }, { 0.3, 0.8, 0.1 }, { -1, 0.5, 2 } });

var ntk = TinyNet.Ntk(theta, x, mode: NtkMode.Full);      // [N O, N O]
var jacobian = TinyNet.Jacobian(theta, x);                 // [N O, P]
double scale = 0, maxDifference = 0;
for (int i = 0; i < ntk.Rows; i++)
    for (int j = 0; j < ntk.Cols; j++)
    {
        double explicitEntry = 0;
        for (int p = 0; p < jacobian.Cols; p++) explicitEntry += jacobian[i, p] * jacobian[j, p];
        scale = Math.Max(scale, Math.Abs(explicitEntry));
        maxDifference = Math.Max(maxDifference, Math.Abs(ntk[i, j] - explicitEntry));
    }

Console.WriteLine($"inputs={TinyNet.InputSize}");
Console.WriteLine($"outputs={TinyNet.OutputSize}");
Console.WriteLine($"parameters={TinyNet.ParameterCount}");
Console.WriteLine($"ntk-shape={ntk.Rows}x{ntk.Cols}");
Console.WriteLine($"ntk-relative-difference-from-jjt={maxDifference / scale:E2}");
Console.WriteLine($"ntk-matches-jjt={(scale > 0 && maxDifference <= 1e-10 * scale ? "yes" : "no")}");
Console.WriteLine($"ntk00={ntk[0, 0]:R}");
