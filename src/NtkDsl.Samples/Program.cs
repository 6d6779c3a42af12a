using NtkDsl;
using NtkDsl.Samples;

var theta = TwoLayerNet.InitializeParameters<double>(seed: 0);
var x = Matrix<double>.FromArray(new double[,] { { 1, 0 }, { 0.6, 0.8 }, { -1, 0.5 } });
var ntk = TwoLayerNet.Ntk(theta, x);
Console.WriteLine($"{TwoLayerNet.Description}: {TwoLayerNet.ParameterCount} parameters");
for (int i = 0; i < ntk.Rows; i++) Console.WriteLine(string.Join("  ", ntk.Row(i).ToArray().Select(v => v.ToString("F6"))));
