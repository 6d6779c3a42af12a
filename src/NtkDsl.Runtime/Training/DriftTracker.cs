using System.Numerics;
using NtkDsl.Backends;
using NtkDsl.Cpu;

namespace NtkDsl;

/// <summary>How far a network has moved from its initialization (and from its linearization) at one step.</summary>
public sealed class DriftSample
{
    internal DriftSample(int step, double kernelChange, double parameterChange, double outputChange, double outputGap)
    {
        Step = step;
        KernelChange = kernelChange;
        ParameterChange = parameterChange;
        OutputChange = outputChange;
        OutputGap = outputGap;
    }

    /// <summary>Training step (parameter updates done).</summary>
    public int Step { get; }

    /// <summary>||Theta_t - Theta_0||_F / ||Theta_0||_F, the empirical NTK on the probe inputs; NaN if the network was not observed at this step.</summary>
    public double KernelChange { get; }

    /// <summary>||theta_t - theta_0||_2 / ||theta_0||_2; NaN if the network was not observed at this step.</summary>
    public double ParameterChange { get; }

    /// <summary>||f_t - f_0||_F on the probe inputs, the scale <see cref="OutputGap"/> compares with; NaN if the network was not observed.</summary>
    public double OutputChange { get; }

    /// <summary>||f_t - f_lin,t||_F on the probe inputs; NaN unless both the network and the linearized model were observed at this step.</summary>
    public double OutputGap { get; }
}

/// <summary>
/// Measures lazy training: while a network is trained (and, separately, its <see cref="LinearizedModel{TNet, T}"/>
/// with the same trainer settings), records at every <c>every</c>-th step the relative change of the empirical NTK
/// ||Theta_t - Theta_0||_F / ||Theta_0||_F, the relative parameter change ||theta_t - theta_0|| / ||theta_0||, and
/// ||f_t - f_lin,t||_F, all on fixed probe inputs (e.g. the training or test set).
/// </summary>
/// <remarks>
/// Pass <see cref="ObserveNetwork"/> as <see cref="TrainingOptions{T}.OnStep"/> of the network's run and
/// <see cref="ObserveLinearized"/> as that of the linearized run (in either order; only outputs on the probe are
/// stored, never parameters). Each network observation costs one NTK on the probe and one forward pass; each
/// linearized observation one JVP. Norms are accumulated in double.
/// </remarks>
/// <typeparam name="TNet">The declared network.</typeparam>
/// <typeparam name="T">float or double.</typeparam>
public sealed class DriftTracker<TNet, T>
    where TNet : INetwork<TNet>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _theta0;
    private readonly double _theta0Norm;
    private readonly Matrix<T> _probe;
    private readonly Matrix<T> _ntk0;
    private readonly double _ntk0Norm;
    private readonly Matrix<T> _f0;
    private readonly Matrix<T> _ntk;
    private readonly Matrix<T> _output;
    private readonly LinearizedModel<TNet, T> _linear;
    private readonly SortedDictionary<int, Entry> _entries = new();

    /// <summary>Computes Theta_0 and f_0 on the probe inputs.</summary>
    /// <param name="initialParameters">theta_0 (copied).</param>
    /// <param name="probe">Inputs [M, d] on which kernels and outputs are compared (copied).</param>
    /// <param name="every">Record every this many steps (and always the last step), &gt;= 1.</param>
    /// <param name="mode">NTK mode for the kernel change; <see cref="NtkMode.Trace"/> by default.</param>
    public DriftTracker(T[] initialParameters, Matrix<T> probe, int every = 1, NtkMode mode = NtkMode.Trace)
    {
        ArgumentNullException.ThrowIfNull(initialParameters);
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentOutOfRangeException.ThrowIfLessThan(every, 1);
        _linear = new LinearizedModel<TNet, T>(initialParameters);   // validates theta_0
        _theta0 = (T[])initialParameters.Clone();
        _probe = new Matrix<T>(probe.Rows, probe.Cols, (T[])probe.Data.Clone());
        Every = every;
        Mode = mode;
        _ntk0 = CpuNetwork<TNet, T>.Ntk(_theta0, _probe, null, mode);
        _ntk = new Matrix<T>(_ntk0.Rows, _ntk0.Cols);
        _ntk0Norm = Norm(_ntk0.Data);
        _theta0Norm = Norm(_theta0);
        _f0 = CpuNetwork<TNet, T>.Forward(_theta0, _probe);
        _output = new Matrix<T>(_f0.Rows, _f0.Cols);
    }

    /// <summary>Sampling period in steps.</summary>
    public int Every { get; }

    /// <summary>The NTK mode of <see cref="DriftSample.KernelChange"/>.</summary>
    public NtkMode Mode { get; }

    /// <summary>The recorded samples, by step.</summary>
    public IReadOnlyList<DriftSample> Samples => _entries.Select(e => e.Value.ToSample(e.Key)).ToList();

    /// <summary>A training callback for the network's run: records at every <see cref="Every"/>-th and at the last step.</summary>
    /// <param name="step">The step report.</param>
    public void ObserveNetwork(TrainingStep<T> step)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (step.Step % Every == 0 || step.IsLast) RecordNetwork(step.Step, step.Parameters);
    }

    /// <summary>A training callback for the linearized model's run: records at every <see cref="Every"/>-th and at the last step.</summary>
    /// <param name="step">The step report.</param>
    public void ObserveLinearized(TrainingStep<T> step)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (step.Step % Every == 0 || step.IsLast) RecordLinearized(step.Step, step.Parameters);
    }

    /// <summary>Records the network at <paramref name="step"/> with parameters theta_t: NTK change, parameter change, outputs.</summary>
    /// <param name="step">Step index (key matched with <see cref="RecordLinearized"/>).</param>
    /// <param name="parameters">theta_t, length P.</param>
    /// <returns>The sample at this step so far.</returns>
    public DriftSample RecordNetwork(int step, T[] parameters)
    {
        CpuNetwork<TNet, T>.Ntk(parameters, _probe, null, Mode, _ntk);
        CpuNetwork<TNet, T>.Forward(parameters, _probe, _output);
        var e = Get(step);
        e.KernelChange = Distance(_ntk.Data, _ntk0.Data) / _ntk0Norm;
        e.ParameterChange = Distance(parameters, _theta0) / _theta0Norm;
        e.Network = ToDouble(_output.Data);
        e.OutputChange = Distance(_output.Data, _f0.Data);
        return e.ToSample(step);
    }

    /// <summary>Records the linearized model at <paramref name="step"/> with parameters theta_lin,t: its outputs f_lin,t on the probe.</summary>
    /// <param name="step">Step index (key matched with <see cref="RecordNetwork"/>).</param>
    /// <param name="parameters">The linearized model's parameters, length P.</param>
    /// <returns>The sample at this step so far.</returns>
    public DriftSample RecordLinearized(int step, T[] parameters)
    {
        _linear.Forward(parameters, _probe, _output);
        var e = Get(step);
        e.Linearized = ToDouble(_output.Data);
        return e.ToSample(step);
    }

    private Entry Get(int step)
    {
        if (!_entries.TryGetValue(step, out var e)) _entries[step] = e = new Entry();
        return e;
    }

    private static double[] ToDouble(T[] v)
    {
        var d = new double[v.Length];
        for (int i = 0; i < v.Length; i++) d[i] = double.CreateChecked(v[i]);
        return d;
    }

    private static double Norm(T[] v)
    {
        double s = 0;
        foreach (var x in v) { double d = double.CreateChecked(x); s += d * d; }
        return Math.Sqrt(s);
    }

    private static double Distance(T[] a, T[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) { double d = double.CreateChecked(a[i]) - double.CreateChecked(b[i]); s += d * d; }
        return Math.Sqrt(s);
    }

    private sealed class Entry
    {
        public double KernelChange = double.NaN, ParameterChange = double.NaN, OutputChange = double.NaN;
        public double[]? Network, Linearized;

        public DriftSample ToSample(int step)
        {
            double gap = double.NaN;
            if (Network is not null && Linearized is not null)
            {
                double s = 0;
                for (int i = 0; i < Network.Length; i++) { double d = Network[i] - Linearized[i]; s += d * d; }
                gap = Math.Sqrt(s);
            }
            return new DriftSample(step, KernelChange, ParameterChange, OutputChange, gap);
        }
    }
}
