using System;
using System.Collections.Generic;
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
        var shape = new TensorShape(Math.Max(0, model.Inputs));
        long offset = 0;
        bool parametersBefore = false;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            var outShape = shape;
            LayerParameters? parameters = null;
            if (layer.IsDense)
            {
                long fanIn = shape.Size, width = Math.Max(0, layer.Width);
                double ws = layer.WeightStd ?? model.WeightStd, bs = layer.BiasStd ?? model.BiasStd;
                long weights = Multiply(width, fanIn), count = Add(weights, layer.HasBias ? width : 0);
                parameters = new LayerParameters(offset, Add(offset, weights), count, layer.HasBias, ws, bs,
                    DenseScaling.WeightScale(ws, Math.Max(1, fanIn), model.Standard),
                    DenseScaling.BiasScale(bs, layer.HasBias, model.Standard),
                    DenseScaling.NtkWeightCoefficient(ws, Math.Max(1, fanIn), model.Standard),
                    DenseScaling.NtkBiasCoefficient(bs, layer.HasBias, model.Standard));
                offset = Add(offset, count);
                outShape = new TensorShape(width);
            }

            nodes.Add(new LayerNode(i, layer.Kind, layer, i - 1, shape, outShape, parameters, parametersBefore));
            parametersBefore |= parameters is not null;
            shape = outShape;
        }

        return new NetworkIr(model, nodes, offset);
    }

    private static long Add(long a, long b) => Math.Min(Saturated, a + b);

    private static long Multiply(long a, long b) => a == 0 || b == 0 ? 0 : a > Saturated / b ? Saturated : Math.Min(Saturated, a * b);
}
