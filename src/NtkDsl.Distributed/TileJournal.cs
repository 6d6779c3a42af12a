using System.Globalization;
using NtkDsl.Tiling;

namespace NtkDsl.Distributed;

// The journal beside a .npy kernel: a first line naming the job (its content hash), then one line
// "RowStart ColumnStart" per tile whose bytes are in the file. Written after each tile is flushed to the file, so a run
// that stops anywhere (even mid-line: an unfinished last line is ignored) resumes without recomputing finished tiles.
internal sealed class TileJournal : IDisposable
{
    private const string Magic = "ntkdsl-tiles 1 ";
    private readonly StreamWriter _writer;

    private TileJournal(StreamWriter writer, HashSet<NtkTile> done) => (_writer, Done) = (writer, done);

    public HashSet<NtkTile> Done { get; }

    public static string PathOf(string npyPath) => npyPath + ".tiles";

    // The tiles a journal of this job lists (none when there is no journal or no kernel file).
    public static HashSet<NtkTile> Read(string npyPath, NtkJob job)
    {
        var done = new HashSet<NtkTile>();
        string path = PathOf(npyPath);
        if (!File.Exists(path) || !File.Exists(npyPath)) return done;
        string text = File.ReadAllText(path);
        int firstEnd = text.IndexOf('\n', StringComparison.Ordinal);
        string first = firstEnd < 0 ? text : text[..firstEnd];
        if (first != Magic + job.Hash)
            throw new ArgumentException($"'{path}' is the journal of another job ({(first.StartsWith(Magic, StringComparison.Ordinal) ? first[Magic.Length..] : "not a tile journal")}, " +
                $"this job is {job.Hash}): delete it and '{npyPath}' to start over, or write elsewhere.", nameof(npyPath));
        var byStart = job.Plan.Tiles.ToDictionary(t => (t.RowStart, t.ColumnStart));
        var lines = text[(firstEnd + 1)..].Split('\n');
        for (int i = 0; i < lines.Length - 1; i++) // the last piece has no newline: unfinished or empty
        {
            var parts = lines[i].Split(' ');
            if (parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out int r) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out int c) &&
                byStart.TryGetValue((r, c), out var tile))
                done.Add(tile);
            else throw new ArgumentException($"'{path}' line {i + 2} is not a tile of this job: \"{lines[i]}\".", nameof(npyPath));
        }

        return done;
    }

    // Opens for appending (a new journal when done is empty).
    public static TileJournal Open(string npyPath, NtkJob job, HashSet<NtkTile> done)
    {
        string path = PathOf(npyPath);
        long kept = done.Count > 0 ? File.ReadAllText(path).LastIndexOf('\n') + 1 : 0; // ASCII: characters are bytes
        var writer = new StreamWriter(new FileStream(path, done.Count > 0 ? FileMode.Open : FileMode.Create, FileAccess.Write, FileShare.Read)) { NewLine = "\n" };
        if (done.Count == 0)
        {
            writer.WriteLine(Magic + job.Hash);
            writer.Flush();
        }
        else
        {
            // Drop an unfinished last line (a run stopped while writing it) so the next line starts clean.
            var stream = writer.BaseStream;
            stream.SetLength(kept);
            stream.Seek(0, SeekOrigin.End);
        }

        return new TileJournal(writer, done);
    }

    public void Append(NtkTile tile)
    {
        _writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{tile.RowStart} {tile.ColumnStart}"));
        _writer.Flush();
        Done.Add(tile);
    }

    public void Dispose() => _writer.Dispose();
}
