namespace NtkDsl;

/// <summary>
/// A convolution over the spatial axes of [C, H, W] (or [C, L]) activations, with <see cref="Channels"/> output
/// channels and a square (or length-<see cref="Kernel"/>) window:
/// z = (w_std / sqrt(C_in kh kw)) conv(W, a) + b_std b under NTK parameterization. Weights are
/// [C_out, C_in, kh, kw] row-major then the bias [C_out] (PyTorch's Conv2d/Conv1d layout).
/// </summary>
/// <param name="channels">Number of output channels (positive).</param>
/// <param name="kernel">Window size along every spatial axis (positive).</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class ConvAttribute(int channels, int kernel) : LayerAttribute
{
    /// <summary>Number of output channels.</summary>
    public int Channels { get; } = channels;

    /// <summary>Window size along every spatial axis.</summary>
    public int Kernel { get; } = kernel;

    /// <summary>Step between windows along every spatial axis (default 1).</summary>
    public int Stride { get; set; } = 1;

    /// <summary>Edge treatment (default <see cref="NtkDsl.Padding.Valid"/>, as in PyTorch and neural-tangents).</summary>
    public Padding Padding { get; set; } = Padding.Valid;

    /// <summary>Weight standard deviation for this layer; unset (NaN) means the network's default.</summary>
    public double WeightStd { get; set; } = double.NaN;

    /// <summary>Bias standard deviation for this layer; unset (NaN) means the network's default.</summary>
    public double BiasStd { get; set; } = double.NaN;

    /// <summary>Whether the layer has a bias per output channel (default true).</summary>
    public bool Bias { get; set; } = true;
}

/// <summary>
/// Average pooling over windows of the spatial axes: the mean over the window, with zero padding counted
/// (PyTorch's <c>count_include_pad=True</c>, neural-tangents' <c>normalize_edges=False</c>).
/// </summary>
/// <param name="window">Window size along every spatial axis (positive).</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class AvgPoolAttribute(int window) : LayerAttribute
{
    /// <summary>Window size along every spatial axis.</summary>
    public int Window { get; } = window;

    /// <summary>Step between windows (default 0: the window size, as in PyTorch).</summary>
    public int Stride { get; set; }

    /// <summary>Edge treatment (default <see cref="NtkDsl.Padding.Valid"/>).</summary>
    public Padding Padding { get; set; } = Padding.Valid;
}

/// <summary>Sum pooling over windows of the spatial axes (<see cref="AvgPoolAttribute"/> times the window area).</summary>
/// <param name="window">Window size along every spatial axis (positive).</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class SumPoolAttribute(int window) : LayerAttribute
{
    /// <summary>Window size along every spatial axis.</summary>
    public int Window { get; } = window;

    /// <summary>Step between windows (default 0: the window size).</summary>
    public int Stride { get; set; }

    /// <summary>Edge treatment (default <see cref="NtkDsl.Padding.Valid"/>).</summary>
    public Padding Padding { get; set; } = Padding.Valid;
}

/// <summary>The mean over all spatial positions of each channel: [C, H, W] to [C].</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class GlobalAvgPoolAttribute : LayerAttribute
{
}

/// <summary>Spatial activations [C, H, W] as C * H * W features in NCHW (row-major) order, as <c>torch.flatten</c>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class FlattenAttribute : LayerAttribute
{
}
