using System;
using System.Collections.Generic;
using System.Linq;
using NtkDsl.Generator.Helpers;
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
        var input = InputShape(model);
        var lowering = new Builder(model);
        lowering.Sequence(model.Layers, null, -1, input, "");
        lowering.AssignRoles();
        return new NetworkIr(model, lowering.Nodes, lowering.Offset) { Input = input, Truncated = lowering.Truncated };
    }

    // Expands blocks in place: a block's layers become nodes in evaluation order, a Repeat repeats them, a join reads the
    // last node of each branch. A block already being expanded (a cycle), an unusable block or a declaration of more than
    // NetworkIr.MaxNodes nodes expands to nothing more; validation reports those.
    private sealed class Builder(NetworkModel model)
    {
        private readonly List<(int Node, long FanIn, long Width)> _weighted = new(); // layers with weights in evaluation order
        private readonly HashSet<string> _expanding = new(StringComparer.Ordinal);
        private readonly List<bool> _trainable = new(); // node k or a node it reads from has parameters

        public List<LayerNode> Nodes { get; } = new();

        public long Offset { get; private set; }

        public bool Truncated { get; private set; }

        // The layers in sequence from node 'input' of shape 'shape'; returns the last node and its shape.
        public (int Node, TensorShape Shape) Sequence(EquatableArray<LayerModel> layers, string? block, int input, TensorShape shape, string scope)
        {
            for (int i = 0; i < layers.Count; i++)
            {
                var layer = layers[i];
                if (Nodes.Count >= NetworkIr.MaxNodes)
                {
                    Truncated = true;
                    break;
                }

                if (layer.IsBlockReference)
                {
                    (input, shape) = Reference(layer, block, i, input, shape, scope);
                    continue;
                }

                input = AddNode(layer, block, i, input, shape, scope);
                shape = Nodes[input].OutShape;
            }

            return (input, shape);
        }

        private (int Node, TensorShape Shape) Reference(LayerModel layer, string? block, int index, int input, TensorShape shape, string scope)
        {
            if (layer.Kind == LayerKind.Repeat)
            {
                string key = layer.Blocks.Count > 0 ? layer.Blocks[0] : "";
                for (int r = 0, before = -1; r < layer.Width && !Truncated && Nodes.Count > before; r++)
                {
                    before = Nodes.Count; // a block that adds no node (unusable, a cycle) is not repeated
                    (input, shape) = Expand(key, input, shape, $"{scope}{Name(key)} #{r + 1}/");
                }
                return (input, shape);
            }

            // A join: every branch from the same input, then the node that sums or concatenates them.
            var ends = new List<(int Node, TensorShape Shape)>();
            if (layer.Kind == LayerKind.Residual) ends.Add((input, shape));
            for (int b = 0; b < layer.Blocks.Count; b++)
                ends.Add(Expand(layer.Blocks[b], input, shape, $"{scope}{(layer.Kind == LayerKind.Residual ? "Residual" : layer.Kind.ToString())}({Name(layer.Blocks[b])})/"));
            if (ends.Count == 0 || Nodes.Count >= NetworkIr.MaxNodes)
            {
                Truncated |= Nodes.Count >= NetworkIr.MaxNodes;
                return (input, shape);
            }

            bool concat = layer.Kind == LayerKind.FanInConcat;
            var first = ends[0].Shape;
            long channels = concat ? ends.Aggregate(0L, (sum, e) => Add(sum, first.IsSpatial ? e.Shape.Channels : e.Shape.Size)) : first.Channels;
            var outShape = first with { Channels = channels };
            var kind = concat ? LayerKind.FanInConcat : LayerKind.FanInSum;
            int node = Nodes.Count;
            bool trainable = ends.Any(e => IsTrainable(e.Node));
            Nodes.Add(new LayerNode(node, kind, layer, ends[0].Node, first, outShape, null, trainable)
            {
                Joined = ends.Select(e => e.Node).ToArray(),
                Origin = (block, index),
                Scope = scope,
            });
            _trainable.Add(trainable);
            return (node, outShape);
        }

        private (int Node, TensorShape Shape) Expand(string key, int input, TensorShape shape, string scope)
        {
            var block = model.Block(key);
            if (block is null || block.Problem is not null || !_expanding.Add(key)) return (input, shape);
            var end = Sequence(block.Layers, key, input, shape, scope);
            _expanding.Remove(key);
            return end;
        }

        // Scalings depend on a layer's role (input, hidden, output: its index among the layers with weights in evaluation
        // order), known once every block is expanded.
        public void AssignRoles()
        {
            for (int j = 0; j < _weighted.Count; j++)
            {
                var (index, fanIn, width) = _weighted[j];
                var node = Nodes[index];
                Nodes[index] = node with { Parameters = Scaled(model, node.Parameters!, DenseScaling.RoleOf(j, _weighted.Count), fanIn, width) };
            }
        }

        private string Name(string key) => model.Block(key)?.Name ?? key;

        private bool IsTrainable(int node) => node >= 0 && _trainable[node];

        private int AddNode(LayerModel layer, string? block, int index, int input, TensorShape shape, string scope)
        {
            var outShape = shape;
            LayerParameters? parameters = null;
            WindowIr? window = null;
            long fanIn = 0;
            switch (layer.Kind)
            {
                case LayerKind.Dense:
                    parameters = Parameters(model, layer, Offset, Math.Max(0, layer.Width), fanIn = shape.Size);
                    outShape = new TensorShape(Math.Max(0, layer.Width));
                    break;
                case LayerKind.Conv:
                    window = Window(shape, layer.Kernel, layer.Stride, layer.Padding);
                    parameters = Parameters(model, layer, Offset, Math.Max(0, layer.Width), fanIn = Multiply(shape.Channels, window.Taps));
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

            int node = Nodes.Count;
            if (parameters is not null)
            {
                Offset = Add(Offset, parameters.Count);
                _weighted.Add((node, fanIn, Math.Max(0, layer.Width)));
            }

            Nodes.Add(new LayerNode(node, layer.Kind, layer, input, shape, outShape, parameters, IsTrainable(input), window)
            {
                Origin = (block, index),
                Scope = scope,
            });
            _trainable.Add(parameters is not null || IsTrainable(input));
            return node;
        }
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

    // A layer's parameters before its role is known (scales 0 until Scaled).
    private static LayerParameters Parameters(NetworkModel model, LayerModel layer, long offset, long width, long fanIn)
    {
        double ws = layer.WeightStd ?? model.WeightStd, bs = layer.BiasStd ?? model.BiasStd;
        long weights = Multiply(width, fanIn), count = Add(weights, layer.HasBias ? width : 0);
        return new LayerParameters(offset, Add(offset, weights), count, layer.HasBias, ws, bs, 0, 0, 0, 0, 0, 0);
    }

    private static LayerParameters Scaled(NetworkModel model, LayerParameters p, LayerRole role, long fanIn, long width)
    {
        var s = DenseScaling.Of(model.Abc, role, p.WeightStd, p.BiasStd, p.HasBias, fanIn, width);
        return p with
        {
            WeightScale = s.WeightScale, BiasScale = s.BiasScale, NtkWeight = s.NtkWeight, NtkBias = s.NtkBias,
            WeightRate = s.WeightLearningRate, BiasRate = s.BiasLearningRate,
        };
    }

    private static long Add(long a, long b) => Math.Min(Saturated, a + b);

    private static long Multiply(long a, long b) => a == 0 || b == 0 ? 0 : a > Saturated / b ? Saturated : Math.Min(Saturated, a * b);
}
