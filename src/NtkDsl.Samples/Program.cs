using NtkDsl;
using NtkDsl.Samples;

// The first look: a declared network, its parameter count, and a small empirical NTK computed layer by
// layer, checked against the explicit product J J^T of its per-sample Jacobians.
var theta = TwoLayerNet.InitializeParameters<double>(seed: 0);
var x = Matrix<double>.FromArray(new double[,] { { 1, 0 }, { 0.6, 0.8 }, { -1, 0.5 }, { 0.1, -0.9 } });

var ntk = TwoLayerNet.Ntk(theta, x);
var jacobian = TwoLayerNet.Jacobian(theta, x);
double maxRelative = 0, scale = ntk.Data.Max(Math.Abs);
for (int i = 0; i < x.Rows; i++)
    for (int j = 0; j < x.Rows; j++)
    {
        double explicitEntry = 0;
        for (int p = 0; p < TwoLayerNet.ParameterCount; p++) explicitEntry += jacobian[i, p] * jacobian[j, p];
        maxRelative = Math.Max(maxRelative, Math.Abs(ntk[i, j] - explicitEntry) / scale);
    }

Console.WriteLine($"Network     {TwoLayerNet.Description}");
Console.WriteLine($"Parameters  {TwoLayerNet.ParameterCount:N0}");
Console.WriteLine($"Empirical NTK Theta(X, X) for {x.Rows} points on the CPU backend (float64):");
for (int i = 0; i < ntk.Rows; i++) Console.WriteLine("  " + string.Join("  ", ntk.Row(i).ToArray().Select(v => v.ToString("F6").PadLeft(10))));
Console.WriteLine($"Max relative difference from explicit J J^T: {maxRelative:E2}");
