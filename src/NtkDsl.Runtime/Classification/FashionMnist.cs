using NtkDsl.IO;

namespace NtkDsl.Classification;

/// <summary>Images [N, 784] with pixel values in [0, 1] and their class labels.</summary>
/// <param name="Images">One row per image, 28 x 28 pixels row-major, divided by 255.</param>
/// <param name="Labels">The class of each image, in [0, 10).</param>
public sealed record LabeledImages(Matrix<double> Images, int[] Labels)
{
    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>The images and labels at <paramref name="indices"/>.</summary>
    /// <param name="indices">Positions in this set.</param>
    public LabeledImages Subset(IReadOnlyList<int> indices) => new(Stratified.Rows(Images, indices), Stratified.Select(Labels, indices));
}

/// <summary>
/// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017; Zalando SE, MIT licence): 60,000 training and 10,000 test
/// grayscale 28 x 28 images of 10 clothing classes, in the IDX files the data set is distributed as
/// (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz).
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the files.</summary>
    public const string DefaultFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>The Debian package that provides the full data set.</summary>
    public const string DebianPackage = "dataset-fashion-mnist";

    /// <summary>Number of classes.</summary>
    public const int ClassCount = 10;

    /// <summary>The class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>
    /// Reads the training and test sets from <paramref name="folder"/> (the four IDX files, gzip-compressed or plain
    /// under the same names without .gz).
    /// </summary>
    /// <param name="folder">The folder; null for <see cref="DefaultFolder"/>.</param>
    /// <exception cref="FileNotFoundException">A file is missing; the message names the folder and the package that provides it.</exception>
    /// <exception cref="IdxFormatException">A file is malformed, or images and labels do not match.</exception>
    public static (LabeledImages Train, LabeledImages Test) Load(string? folder = null)
    {
        folder ??= DefaultFolder;
        return (LoadSet(folder, "train"), LoadSet(folder, "t10k"));
    }

    private static LabeledImages LoadSet(string folder, string prefix)
    {
        var (images, labels) = Idx.ReadLabeledImages(Locate(folder, $"{prefix}-images-idx3-ubyte"), Locate(folder, $"{prefix}-labels-idx1-ubyte"), ClassCount);
        return new LabeledImages(images, labels);
    }

    private static string Locate(string folder, string name)
    {
        foreach (var candidate in new[] { name + ".gz", name })
        {
            var path = Path.Combine(folder, candidate);
            if (File.Exists(path)) return path;
        }

        string where = Directory.Exists(folder) ? $"Folder '{Path.GetFullPath(folder)}' has no {name}.gz (or {name})" : $"Folder '{Path.GetFullPath(folder)}' does not exist, so it has no {name}.gz";
        throw new FileNotFoundException(
            $"{where}. Fashion-MNIST is in Debian's archive: 'apt-get install {DebianPackage}' puts it in {DefaultFolder}; or download the four IDX files from https://github.com/zalandoresearch/fashion-mnist and name their folder.",
            Path.Combine(folder, name + ".gz"));
    }
}
