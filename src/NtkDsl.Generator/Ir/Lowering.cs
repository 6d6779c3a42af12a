using System;
using System.Collections.Generic;
using System.Linq;
using NtkDsl.Generator.Model;
using NtkDsl.Layers;

namespace NtkDsl.Generator.Ir;

/// <summary>
/// Declarations to IR: the one place that computes shapes, parameter offsets and the scalings of the chosen
/// parameterization (through <see cref="DenseScaling"/>, which the runtime shares). Pure and total: it never
/// throws, whatever the declaration; validation judges the result.
/// </summary>
internal static class Lowering
{
    // Sizes saturate here, far above int.MaxValue (NTK0012's limit), so sums of oversized layers cannot wrap.
    private const long Saturated = long.MaxValue / 4;

    public static NetworkIr Lower(NetworkModel model)
    {
        var nodes = new List<LayerNode>(model.Layers.Count);
        var shape = InputShape(model);
        long offset = 0;
        bool parametersBefore = false;
        int weighted = model.Layers.Count(l => l.HasWeights), seen = 0;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            var outShape = shape;
            LayerParameters? parameters = null;
            WindowIr? window = null;
            switch (layer.Kind)
            {
                case LayerKind.Dense:
                    parameters = Parameters(model, layer, DenseScaling.RoleOf(seen++, weighted), offset, Math.Max(0, layer.Width), shape.Size);
                    outShape = new TensorShape(Math.Max(0, layer.Width));
                    break;
                case LayerKind.Conv:
                    window = Window(shape, layer.Kernel, layer.Stride, layer.Padding);
                    parameters = Parameters(model, layer, DenseScaling.RoleOf(seen++, weighted), offset, Math.Max(0, layer.Width), Multiply(shape.Channels, window.Taps));
                    outShape = Output(shape, window, Math.Max(0, layer.Width));
                    break;
                case LayerKind.AvgPool:
                case LayerKind.SumPool:
                    window = Window(shape, layer.Kernel, layer.Stride == 0 ? layer.Kernel : layer.Stride, layer.Padding);
                    outShape = Output(shape, window, shape.Channels);
                    break;
                case LayerKind.GlobalAvgPool:
                    outShape = new TensorShape(shape.Channels);
                    break;
                case LayerKind.Flatten:
                    outShape = new TensorShape(shape.Size);
                    break;
            }

            if (parameters is not null) offset = Add(offset, parameters.Count);
            nodes.Add(new LayerNode(i, layer.Kind, layer, i - 1, shape, outShape, parameters, parametersBefore, window));
            parametersBefore |= parameters is not null;
            shape = outShape;
        }

        return new NetworkIr(model, nodes, offset);
    }

    /// <summary>The input's shape: [C, H, W] or [C, L] when a spatial input is declared, else [Inputs].</summary>
    public static TensorShape InputShape(NetworkModel model)
    {
        var s = model.Spatial;
        if (!s.IsValid) return new TensorShape(Math.Max(0, model.Inputs));
        var (height, width) = s.Extent;
        return new TensorShape(s.Channels, height, width, Sequence: s.Length > 0);
    }

    // A square window (kernel rows 1 on sequences); sizes are clamped positive so that lowering stays total.
    private static WindowIr Window(TensorShape input, int kernel, int stride, int padding)
    {
        int k = Math.Max(1, kernel), st = Math.Max(1, stride);
        var pad = padding is >= 0 and <= 2 ? (Padding)padding : Padding.Valid;
        return input.Sequence ? new WindowIr(1, k, 1, st, pad) : new WindowIr(k, k, st, st, pad);
    }

    private static TensorShape Output(TensorShape input, WindowIr window, long channels) =>
        !input.IsSpatial
            ? new TensorShape(channels, 1, 1, input.Sequence)
            : new TensorShape(channels,
                SpatialGeometry.OutputSize(input.Height, window.Height, window.StrideHeight, window.Padding),
                SpatialGeometry.OutputSize(input.Width, window.Width, window.StrideWidth, window.Padding), input.Sequence);

    private static LayerParameters Parameters(NetworkModel model, LayerModel layer, LayerRole role, long offset, long width, long fanIn)
    {
        double ws = layer.WeightStd ?? model.WeightStd, bs = layer.BiasStd ?? model.BiasStd;
        long weights = Multiply(width, fanIn), count = Add(weights, layer.HasBias ? width : 0);
        var s = DenseScaling.Of(model.Parameterization, role, ws, bs, layer.HasBias, fanIn, width);
        return new LayerParameters(offset, Add(offset, weights), count, layer.HasBias, ws, bs, s.WeightScale, s.BiasScale, s.NtkWeight, s.NtkBias,
            s.WeightLearningRate, s.BiasLearningRate);
    }

    private static long Add(long a, long b) => Math.Min(Saturated, a + b);

    private static long Multiply(long a, long b) => a == 0 || b == 0 ? 0 : a > Saturated / b ? Saturated : Math.Min(Saturated, a * b);
}
