using NtkDsl;
using NtkDsl.Torch;
using TorchConsumer;
using static TorchSharp.torch;

// Checked by tests/consumer/run.sh: the generated NTK on TorchNetwork<SmallNet> (float64, CPU) against the
// generated CPU NTK (SmallNet.Ntk, through CpuNetwork) to 1e-10, relative to the largest entry.
var theta = SmallNet.InitializeParameters<double>(seed: 11);
var x1 = Matrix<double>.FromArray(new double[,] { { 1, 0, -0.5, 0.25 }, { 0.3, 0.8, 0.1, -1 }, { -1, 0.5, 2, 0 } });
var x2 = Matrix<double>.FromArray(new double[,] { { 0.2, -0.4, 0.6, 1.5 }, { -0.7, 0.1, 0, 0.9 } });

Console.WriteLine($"parameters={SmallNet.ParameterCount}");

using var scope = NewDisposeScope();
using var net = new TorchNetwork<SmallNet>(TorchBackend.Float64(TorchDevices.Cpu));
Console.WriteLine($"torch-loaded={(TorchRuntime.IsLoaded ? "yes" : "no")}");
Console.WriteLine($"backend={net.Backend}");

var thetaTensor = TorchConvert.ToRowTensor<double>(theta);
var x1Tensor = x1.ToTensor();
var x2Tensor = x2.ToTensor();

Compare("forward", SmallNet.Forward(theta, x1), net.Forward(thetaTensor, x1Tensor).ToMatrix<double>());
Compare("ntk-full", SmallNet.Ntk(theta, x1, mode: NtkMode.Full), net.Ntk(thetaTensor, x1Tensor, mode: NtkMode.Full).ToMatrix<double>());
Compare("ntk-trace-x1x2", SmallNet.Ntk(theta, x1, x2, NtkMode.Trace), net.Ntk(thetaTensor, x1Tensor, x2Tensor, NtkMode.Trace).ToMatrix<double>());

static void Compare(string name, Matrix<double> cpu, Matrix<double> torch)
{
    bool sameShape = cpu.Rows == torch.Rows && cpu.Cols == torch.Cols;
    double scale = 0, maxDifference = 0;
    if (sameShape)
        for (int i = 0; i < cpu.Rows; i++)
            for (int j = 0; j < cpu.Cols; j++)
            {
                scale = Math.Max(scale, Math.Abs(cpu[i, j]));
                maxDifference = Math.Max(maxDifference, Math.Abs(cpu[i, j] - torch[i, j]));
            }

    Console.WriteLine($"{name}-shape={torch.Rows}x{torch.Cols}");
    Console.WriteLine($"{name}-relative-difference={maxDifference / scale:E2}");
    Console.WriteLine($"{name}-matches-cpu={(sameShape && scale > 0 && maxDifference <= 1e-10 * scale ? "yes" : "no")}");
}
