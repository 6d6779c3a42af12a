using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;

namespace NtkDsl.Generator.Diagnostics;

/// <summary>Every diagnostic the generator reports. Keep AnalyzerReleases.Unshipped.md and docs/diagnostics in step.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "NtkDsl";

    /// <summary>
    /// Where docs/diagnostics/NTK####.md live, ending in '/'. Comes from the MSBuild property
    /// NtkDslDiagnosticsHelpBaseUrl (Directory.Build.props) through an AssemblyMetadata attribute.
    /// </summary>
    public static readonly string HelpBaseUrl = ReadHelpBaseUrl();

    /// <summary>The help link of a diagnostic id: {HelpBaseUrl}NTK####.md.</summary>
    public static string HelpLink(string id) => HelpBaseUrl + id + ".md";

    public static readonly DiagnosticDescriptor NotPartial = Create("NTK0001", "Network class must be partial",
        "The network class '{0}' must be declared partial so that generated members can be added to it");

    public static readonly DiagnosticDescriptor InvalidInputs = Create("NTK0002", "Network needs a positive input size",
        "The network '{0}' must set Inputs to a positive integer (got {1})");

    public static readonly DiagnosticDescriptor NoLayers = Create("NTK0003", "Network has no layers",
        "The network '{0}' declares no layers: add [Dense(width)] and activation attributes after [Network]");

    public static readonly DiagnosticDescriptor InvalidWidth = Create("NTK0004", "Dense width must be positive",
        "Dense layer {0} of '{1}' has width {2}; a width must be a positive integer");

    public static readonly DiagnosticDescriptor InvalidStd = Create("NTK0005", "Standard deviation must be finite and non-negative",
        "{0} of {1} is {2}; a standard deviation must be finite and non-negative");

    public static readonly DiagnosticDescriptor MustEndInDense = Create("NTK0006", "Network must end in a Dense layer",
        "The network '{0}' ends in the activation '{1}'; the last layer must be Dense (its width is the output size)");

    public static readonly DiagnosticDescriptor LayersSplit = Create("NTK0007", "Layers are split over several partial declarations",
        "The layers of '{0}' are declared on more than one partial declaration, so their order is ambiguous; declare all layer attributes on one declaration");

    public static readonly DiagnosticDescriptor UnsupportedContainingType = Create("NTK0008", "Unsupported network type",
        "The network '{0}' is {1}; networks must be non-generic classes that are not nested in generic types");

    public static readonly DiagnosticDescriptor InvalidArgument = Create("NTK0009", "Invalid attribute argument",
        "{0} of {1} is {2}; {3}");

    public static readonly DiagnosticDescriptor ContainingTypeNotPartial = Create("NTK0010", "Containing type must be partial",
        "The type '{0}' that contains the network '{1}' must be declared partial");

    public static readonly DiagnosticDescriptor StaticClass = Create("NTK0011", "Network class must not be static",
        "The network class '{0}' must not be static: it implements the INetwork interface");

    public static readonly DiagnosticDescriptor TooManyParameters = Create("NTK0012", "Too many parameters",
        "The network '{0}' has {1} parameters; at most 2147483647 are supported (one flat vector indexed by int)");

    public static readonly DiagnosticDescriptor BiasStdWithoutBias = Create("NTK0013", "BiasStd has no effect without a bias",
        "Layer {0} of '{1}' sets BiasStd but has Bias = false, so BiasStd is ignored", DiagnosticSeverity.Warning);

    public static readonly DiagnosticDescriptor UnknownLayer = Create("NTK0014", "Unknown layer attribute",
        "'{0}' derives from LayerAttribute but is not a layer the generator knows; use the layers of the NtkDsl namespace");

    public static readonly DiagnosticDescriptor QuadratureFallback = Create("NTK0015", "Infinite-width kernel uses quadrature",
        "The activation '{0}' (layer {1} of '{2}') has no closed-form infinite-width kernel; InfiniteWidth integrates it numerically (adaptive quadrature to InfiniteWidthOptions.QuadratureTolerance)",
        DiagnosticSeverity.Info);

    public static readonly DiagnosticDescriptor NoInfiniteWidth = Create("NTK0016", "No infinite-width kernel for this architecture",
        "InfiniteWidth is not generated for '{0}': the activation '{1}' (layer {2}) does not directly follow a Dense layer, so its input is not Gaussian in the infinite-width limit",
        DiagnosticSeverity.Warning);

    public static readonly DiagnosticDescriptor NameCollision = Create("NTK0017", "Name collides with generated code",
        "The network '{0}' cannot be generated because {1}, a name the generated code needs; {2}");

    public static readonly DiagnosticDescriptor FileLocalNetwork = Create("NTK0018", "File-local network type",
        "The network '{0}' {1}; generated members are written to their own file, and a file-local type cannot be extended from another file: remove the 'file' modifier");

    public static readonly DiagnosticDescriptor InvalidElementwise = Create("NTK0019", "Invalid elementwise activation",
        "Elementwise layer {0} of '{1}': {2}");

    public static readonly DiagnosticDescriptor InvalidSpatialInput = Create("NTK0020", "Invalid spatial input shape",
        "The network '{0}' declares {1}; declare Channels with Height and Width (images [C, H, W]) or with Length (sequences [C, L]), all positive, and leave Inputs unset or equal to C * H * W");

    public static readonly DiagnosticDescriptor SpatialLayerOnFeatures = Create("NTK0021", "Spatial layer on feature vectors",
        "Layer {0} ({1}) of '{2}' needs spatial activations [C, H, W] or [C, L], but its input is {3}; declare Channels and Height/Width (or Length) on [Network], and put spatial layers before Flatten or GlobalAvgPool");

    public static readonly DiagnosticDescriptor DenseOnSpatial = Create("NTK0022", "Dense layer on spatial activations",
        "Layer {0} (Dense) of '{1}' gets spatial activations {2}; add [Flatten] or [GlobalAvgPool] before it");

    public static readonly DiagnosticDescriptor InvalidWindow = Create("NTK0023", "Invalid convolution or pooling window",
        "Layer {0} ({1}) of '{2}' on input {3}: {4}");

    public static readonly DiagnosticDescriptor StrideLeavesInput = Create("NTK0024", "Stride leaves input unread",
        "Layer {0} ({1}) of '{2}': with Valid padding a window of {3} and stride {4} on an axis of {5} never reads the last {6} input element(s), giving output {7}; choose a stride that divides {5} - {3}, or use Same padding",
        DiagnosticSeverity.Warning);

    public static readonly DiagnosticDescriptor InvalidBlock = Create("NTK0030", "Not a block type",
        "The block '{0}' of {1} cannot be used: {2}");

    public static readonly DiagnosticDescriptor EmptyBlock = Create("NTK0031", "Block has no layers",
        "The block '{0}' of {1} has no layer attributes; give it layers, e.g. [Dense(64), Relu]");

    public static readonly DiagnosticDescriptor BlockCycle = Create("NTK0032", "Block contains itself",
        "The block '{0}' of {1} contains itself ({2}); a block must not refer to itself, directly or through other blocks");

    public static readonly DiagnosticDescriptor BranchShapeMismatch = Create("NTK0033", "Summed branches differ in shape",
        "The branches of {0} give different shapes, {1}, so they cannot be added; {2}");

    public static readonly DiagnosticDescriptor ConcatMismatch = Create("NTK0034", "Concatenated branches differ in spatial shape",
        "The branches of {0} give {1}, which cannot be concatenated: feature vectors join feature vectors, and [C, H, W] activations join along C with the same H and W");

    public static readonly DiagnosticDescriptor InvalidBlockArguments = Create("NTK0035", "Invalid block reference",
        "{0}: {1}");

    public static readonly DiagnosticDescriptor DependentBranches = Create("NTK0036", "No infinite-width kernel for correlated branches",
        "InfiniteWidth is not generated for '{0}': the branches summed by {1} are correlated in the infinite-width limit; every branch but one must end in a Dense or Conv layer (followed only by pooling, Flatten or LayerNorm), as a residual block x + f(x) does",
        DiagnosticSeverity.Warning);

    public static readonly DiagnosticDescriptor LayerNormTooNarrow = Create("NTK0037", "LayerNorm needs two or more channels",
        "Layer {0} (LayerNorm) of '{1}' gets {2}, one value per position to normalize over, which normalizes to 0; put it after a layer with two or more features or channels");
    public static readonly DiagnosticDescriptor NoKernelLimit = Create("NTK0040", "No infinite-width kernel in the feature-learning regime",
        "InfiniteWidth is not generated for '{0}': {1}; the empirical NTK, Jacobians and linearization are generated",
        DiagnosticSeverity.Info);

    public static readonly DiagnosticDescriptor AbcRoleMissing = Create("NTK0045", "abc exponents missing for a role",
        "'{0}' declares Parameterization.Abc but no exponents for the {1} role; add [Abc(LayerRole.{1}, a: ..., b: ..., c: ...)] (every role needs one; Parameterization.Ntk's are input (0, 0, 0), hidden and output (0.5, 0, 0))");

    public static readonly DiagnosticDescriptor AbcRoleTwice = Create("NTK0046", "abc exponents given twice for a role",
        "The {0} role of '{1}' has exponents from an earlier [Abc] already; give each role (Input, Hidden, Output) exactly one [Abc]");

    public static readonly DiagnosticDescriptor InvalidAbcExponents = Create("NTK0047", "Invalid abc exponents",
        "[Abc] on '{0}' has {1}; {2}");

    public static readonly DiagnosticDescriptor AbcWithoutAbcParameterization = Create("NTK0048", "abc settings that do not apply",
        "{0} on {1} is ignored: {2}");

    public static readonly DiagnosticDescriptor InvalidBaseWidth = Create("NTK0049", "Invalid base width",
        "BaseWidth of [Network] on '{0}' is {1}: {2}");

    public static DiagnosticDescriptor? ById(string id) => id switch
    {
        "NTK0001" => NotPartial,
        "NTK0002" => InvalidInputs,
        "NTK0003" => NoLayers,
        "NTK0004" => InvalidWidth,
        "NTK0005" => InvalidStd,
        "NTK0006" => MustEndInDense,
        "NTK0007" => LayersSplit,
        "NTK0008" => UnsupportedContainingType,
        "NTK0009" => InvalidArgument,
        "NTK0010" => ContainingTypeNotPartial,
        "NTK0011" => StaticClass,
        "NTK0012" => TooManyParameters,
        "NTK0013" => BiasStdWithoutBias,
        "NTK0014" => UnknownLayer,
        "NTK0015" => QuadratureFallback,
        "NTK0016" => NoInfiniteWidth,
        "NTK0017" => NameCollision,
        "NTK0018" => FileLocalNetwork,
        "NTK0019" => InvalidElementwise,
        "NTK0020" => InvalidSpatialInput,
        "NTK0021" => SpatialLayerOnFeatures,
        "NTK0022" => DenseOnSpatial,
        "NTK0023" => InvalidWindow,
        "NTK0024" => StrideLeavesInput,
        "NTK0030" => InvalidBlock,
        "NTK0031" => EmptyBlock,
        "NTK0032" => BlockCycle,
        "NTK0033" => BranchShapeMismatch,
        "NTK0034" => ConcatMismatch,
        "NTK0035" => InvalidBlockArguments,
        "NTK0036" => DependentBranches,
        "NTK0037" => LayerNormTooNarrow,
        "NTK0040" => NoKernelLimit,
        "NTK0045" => AbcRoleMissing,
        "NTK0046" => AbcRoleTwice,
        "NTK0047" => InvalidAbcExponents,
        "NTK0048" => AbcWithoutAbcParameterization,
        "NTK0049" => InvalidBaseWidth,
        _ => null,
    };

    private static DiagnosticDescriptor Create(string id, string title, string message, DiagnosticSeverity severity = DiagnosticSeverity.Error) =>
        new(id, title, message, Category, severity, isEnabledByDefault: true, description: HelpText(id), helpLinkUri: HelpLink(id));

    /// <summary>The "Why" section of docs/diagnostics/{id}.md (embedded in the generator), as plain text.</summary>
    internal static string HelpText(string id)
    {
        using var stream = typeof(DiagnosticDescriptors).Assembly.GetManifestResourceStream("NtkDsl.Generator.Docs." + id + ".md");
        if (stream is null) return "";
        using var reader = new System.IO.StreamReader(stream);
        string page = reader.ReadToEnd().Replace("\r\n", "\n");
        int start = page.IndexOf("\n## Why\n", System.StringComparison.Ordinal);
        if (start < 0) return "";
        start += "\n## Why\n".Length;
        int end = page.IndexOf("\n## ", start, System.StringComparison.Ordinal);
        string why = (end < 0 ? page.Substring(start) : page.Substring(start, end - start)).Trim();
        return string.Join(" ", why.Split(new[] { '\n' }, System.StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()));
    }

    private static string ReadHelpBaseUrl()
    {
        var url = typeof(DiagnosticDescriptors).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "NtkDslDiagnosticsHelpBaseUrl")?.Value;
        if (string.IsNullOrEmpty(url)) return "docs/diagnostics/";
        return url!.EndsWith("/", System.StringComparison.Ordinal) ? url : url + "/";
    }
}
