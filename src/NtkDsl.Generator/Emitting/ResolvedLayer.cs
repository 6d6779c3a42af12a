using System;
using System.Collections.Generic;
using NtkDsl.Generator.Model;

namespace NtkDsl.Generator.Emitting;

/// <summary>
/// A layer with everything the emitted code needs as constants: sizes, parameter offsets, and the
/// scalings of the chosen parameterization (forward scales and the structured-NTK coefficients).
/// </summary>
internal sealed class ResolvedLayer
{
    public int Index { get; private set; }
    public LayerModel Layer { get; private set; } = null!;
    public int FanIn { get; private set; }
    public int Width { get; private set; }
    public double WeightStd { get; private set; }
    public double BiasStd { get; private set; }
    public int WeightOffset { get; private set; }
    public int BiasOffset { get; private set; }

    /// <summary>z = WeightScale * W a + BiasScale * b.</summary>
    public double WeightScale { get; private set; }
    public double BiasScale { get; private set; }

    /// <summary>This layer's NTK term is &lt;D, D'&gt; (NtkScale &lt;a, a'&gt; + NtkOffset).</summary>
    public double NtkScale { get; private set; }
    public double NtkOffset { get; private set; }

    /// <summary>True when a Dense layer precedes this one (so cotangents must flow further back).</summary>
    public bool HasDenseBefore { get; private set; }

    public bool IsDense => Layer.IsDense;

    public static IReadOnlyList<ResolvedLayer> Resolve(NetworkModel model, out int parameterCount)
    {
        var result = new List<ResolvedLayer>();
        int features = model.Inputs, offset = 0;
        bool denseSeen = false;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            var resolved = new ResolvedLayer { Index = i, Layer = layer, FanIn = features, Width = features, HasDenseBefore = denseSeen };
            if (layer.IsDense)
            {
                double ws = layer.WeightStd ?? model.WeightStd, bs = layer.BiasStd ?? model.BiasStd;
                resolved.Width = layer.Width;
                resolved.WeightStd = ws;
                resolved.BiasStd = bs;
                resolved.WeightOffset = offset;
                resolved.BiasOffset = offset + layer.Width * features;
                if (model.Standard)
                {
                    resolved.WeightScale = 1;
                    resolved.BiasScale = layer.HasBias ? 1 : 0;
                    resolved.NtkScale = 1;
                    resolved.NtkOffset = layer.HasBias ? 1 : 0;
                }
                else
                {
                    resolved.WeightScale = ws / Math.Sqrt(features);
                    resolved.BiasScale = layer.HasBias ? bs : 0;
                    resolved.NtkScale = ws * ws / features;
                    resolved.NtkOffset = layer.HasBias ? bs * bs : 0;
                }

                offset += layer.Width * features + (layer.HasBias ? layer.Width : 0);
                features = layer.Width;
                denseSeen = true;
            }

            result.Add(resolved);
        }

        parameterCount = offset;
        return result;
    }
}
