using NtkDsl.Layers;

namespace NtkDsl;

/// <summary>
/// The spatial extent of [C, H, W] activations. A 1-D sequence [C, L] is Height = 1, Width = L, and its windows
/// have height 1, so every spatial layer has one code path.
/// </summary>
/// <param name="Height">Rows (1 for sequences).</param>
/// <param name="Width">Columns (the length of a sequence).</param>
public readonly record struct SpatialShape(int Height, int Width)
{
    /// <summary>Number of spatial positions H * W.</summary>
    public int Positions => Height * Width;

    /// <inheritdoc/>
    public override string ToString() => Height == 1 ? $"{Width}" : $"{Height}x{Width}";
}

/// <summary>
/// A window along the spatial axes (of a convolution or a pooling layer) on inputs of a given shape: its size,
/// stride and padding per axis, and the output shape they give. One-dimensional windows have height 1 and stride 1
/// along the height.
/// </summary>
/// <param name="Input">The input's spatial shape.</param>
/// <param name="Height">Window rows.</param>
/// <param name="Width">Window columns.</param>
/// <param name="StrideHeight">Step between window rows.</param>
/// <param name="StrideWidth">Step between window columns.</param>
/// <param name="Padding">Edge treatment.</param>
public sealed record SpatialWindow(SpatialShape Input, int Height, int Width, int StrideHeight, int StrideWidth, Padding Padding)
{
    /// <summary>A square (2-D) or length-<paramref name="size"/> (1-D, when <paramref name="input"/> has height 1) window.</summary>
    public static SpatialWindow Of(SpatialShape input, int size, int stride, Padding padding) =>
        input.Height == 1
            ? new SpatialWindow(input, 1, size, 1, stride, padding)
            : new SpatialWindow(input, size, size, stride, stride, padding);

    /// <summary>The output's spatial shape.</summary>
    public SpatialShape Output => new(
        SpatialGeometry.OutputSize(Input.Height, Height, StrideHeight, Padding),
        SpatialGeometry.OutputSize(Input.Width, Width, StrideWidth, Padding));

    /// <summary>Number of taps kh * kw.</summary>
    public int Taps => Height * Width;

    /// <summary>Padding rows before the first input row (0 for Valid).</summary>
    public int PadTop => SpatialGeometry.PadBefore(Input.Height, Height, StrideHeight, Padding);

    /// <summary>Padding rows after the last input row: the rest of what the windows reach (0 for Valid).</summary>
    public int PadBottom => Padding == Padding.Valid ? 0 : Math.Max(0, (Output.Height - 1) * StrideHeight + Height - Input.Height - PadTop);

    /// <summary>Padding columns before the first input column (0 for Valid).</summary>
    public int PadLeft => SpatialGeometry.PadBefore(Input.Width, Width, StrideWidth, Padding);

    /// <summary>Padding columns after the last input column (0 for Valid).</summary>
    public int PadRight => Padding == Padding.Valid ? 0 : Math.Max(0, (Output.Width - 1) * StrideWidth + Width - Input.Width - PadLeft);

    /// <summary>Input row read by output row <paramref name="row"/> at tap row <paramref name="tap"/>; -1 in zero padding.</summary>
    public int InputRow(int row, int tap) => SpatialGeometry.InputIndex(row, tap, Input.Height, Height, StrideHeight, Padding);

    /// <summary>Input column read by output column <paramref name="column"/> at tap column <paramref name="tap"/>; -1 in zero padding.</summary>
    public int InputColumn(int column, int tap) => SpatialGeometry.InputIndex(column, tap, Input.Width, Width, StrideWidth, Padding);
}

/// <summary>
/// A convolution layer with resolved standard deviations (<see cref="ConvAttribute"/>): weights
/// [OutChannels, InChannels, kh, kw] row-major at <paramref name="WeightOffset"/>, then the bias [OutChannels].
/// Under NTK parameterization z = (w_std / sqrt(InChannels kh kw)) conv(W, a) + b_std b.
/// </summary>
/// <param name="InChannels">Input channels.</param>
/// <param name="OutChannels">Output channels.</param>
/// <param name="Window">The convolution window on the input.</param>
/// <param name="WeightStd">sigma_w.</param>
/// <param name="BiasStd">sigma_b (irrelevant when <paramref name="HasBias"/> is false).</param>
/// <param name="HasBias">Whether the layer has a bias per output channel.</param>
/// <param name="WeightOffset">Index of W[0, 0, 0, 0] in the flat parameter vector.</param>
/// <param name="BiasOffset">Index of b[0] (WeightOffset + OutChannels * FanIn).</param>
public sealed record ConvLayer(int InChannels, int OutChannels, SpatialWindow Window, double WeightStd, double BiasStd, bool HasBias,
    int WeightOffset, int BiasOffset) : WeightedLayer
{
    /// <summary>Fan-in InChannels * kh * kw.</summary>
    public override int FanIn => InChannels * Window.Taps;

    /// <inheritdoc/>
    public override int FanOut => OutChannels;
}

/// <summary>Average (<paramref name="Sum"/> false) or sum pooling over <paramref name="Window"/>, channel by channel.</summary>
/// <param name="Channels">Channels (unchanged).</param>
/// <param name="Window">The pooling window on the input.</param>
/// <param name="Sum">True for sum pooling, false for the mean over the window (zero padding counted).</param>
public sealed record PoolLayer(int Channels, SpatialWindow Window, bool Sum) : Layer;

/// <summary>The mean over all positions of each channel: [Channels, Input] to [Channels].</summary>
/// <param name="Channels">Channels.</param>
/// <param name="Input">The input's spatial shape.</param>
public sealed record GlobalAvgPoolLayer(int Channels, SpatialShape Input) : Layer;

/// <summary>[Channels, Input] activations as Channels * Input.Positions features in NCHW order.</summary>
/// <param name="Channels">Channels.</param>
/// <param name="Input">The input's spatial shape.</param>
public sealed record FlattenLayer(int Channels, SpatialShape Input) : Layer;
