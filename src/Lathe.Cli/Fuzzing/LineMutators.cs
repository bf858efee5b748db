using Lathe.Tensors;

namespace Lathe.Cli.Fuzzing;

/// <summary>Line-level damage to text formats (JSONL, N-Triples, .tiktoken, mail): a line duplicated, dropped,
/// swapped with another, spliced from two halves, or blown up to a very long line; and for JSONL one line's JSON
/// damaged by a <see cref="JsonMutators"/> mutator.</summary>
internal static class LineMutators
{
    static List<byte[]> Split(byte[] b)
    {
        var lines = new List<byte[]>();
        int start = 0;
        for (int i = 0; i < b.Length; i++)
            if (b[i] == '\n') { lines.Add(b[start..(i + 1)]); start = i + 1; }
        if (start < b.Length) lines.Add(b[start..]);
        return lines;
    }

    static byte[] Join(List<byte[]> lines) => lines.SelectMany(l => l).ToArray();

    static Func<byte[], Philox, byte[]> OnLines(Func<List<byte[]>, Philox, bool> change) => (b, r) =>
    {
        var lines = Split(b);
        return lines.Count == 0 || !change(lines, r) ? b : Join(lines);
    };

    public static readonly Mutator Duplicate = new("line-duplicate", OnLines((l, r) => { int i = r.NextInt(l.Count); l.Insert(r.NextInt(l.Count + 1), l[i]); return true; }));

    public static readonly Mutator Drop = new("line-drop", OnLines((l, r) => { l.RemoveAt(r.NextInt(l.Count)); return true; }));

    public static readonly Mutator Swap = new("line-swap", OnLines((l, r) =>
    {
        if (l.Count < 2) return false;
        int i = r.NextInt(l.Count), j = r.NextInt(l.Count);
        (l[i], l[j]) = (l[j], l[i]);
        return true;
    }));

    /// <summary>The first part of one line joined to the last part of another (a half-written line, a bad merge).</summary>
    public static readonly Mutator Splice = new("line-splice", OnLines((l, r) =>
    {
        int i = r.NextInt(l.Count), j = r.NextInt(l.Count);
        byte[] a = l[i], c = l[j];
        l[i] = [.. a.AsSpan(0, r.NextInt(a.Length + 1)), .. c.AsSpan(r.NextInt(c.Length + 1))];
        return true;
    }));

    /// <summary>One line repeated into a line of up to a megabyte (readers that buffer a line must bound it or cope).</summary>
    public static readonly Mutator LongLine = new("line-long", OnLines((l, r) =>
    {
        int i = r.NextInt(l.Count);
        var body = l[i].AsSpan().TrimEnd("\r\n"u8).ToArray();
        if (body.Length == 0) return false;
        int target = 1 << (10 + r.NextInt(11)), copies = (target + body.Length - 1) / body.Length;
        var grown = new byte[body.Length * copies + 1];
        for (int c = 0; c < copies; c++) body.CopyTo(grown, c * body.Length);
        grown[^1] = (byte)'\n';
        l[i] = grown;
        return true;
    }));

    /// <summary>A JSON mutator applied to one line of a JSONL file.</summary>
    public static Mutator OnOneLine(Mutator json) => new("jsonl-" + json.Name, OnLines((l, r) =>
    {
        int i = r.NextInt(l.Count);
        var body = l[i].AsSpan().TrimEnd("\r\n"u8).ToArray();
        var changed = json.Apply(body, r);
        if (ReferenceEquals(changed, body)) return false;
        l[i] = [.. changed, (byte)'\n'];
        return true;
    }));

    /// <summary>A .tiktoken line's rank (after the space) replaced: another line's (two tokens, one rank), −1, the
    /// rank count, int.MaxValue, beyond int, or not a number.</summary>
    public static readonly Mutator TiktokenRank = new("tiktoken-rank", OnLines((l, r) =>
    {
        int i = r.NextInt(l.Count), space = Array.IndexOf(l[i], (byte)' ');
        if (space < 0) return false;
        string other = System.Text.Encoding.ASCII.GetString(l[r.NextInt(l.Count)]).Split(' ').Last().Trim();
        string rank = r.Pick(new[] { other, "-1", l.Count.ToString(), int.MaxValue.ToString(), "4294967296", "x", "" });
        l[i] = [.. l[i].AsSpan(0, space + 1), .. System.Text.Encoding.ASCII.GetBytes(rank), (byte)'\n'];
        return true;
    }));

    public static readonly IReadOnlyList<Mutator> All = [Duplicate, Drop, Swap, Splice, LongLine];

    /// <summary>Line mutators plus every JSON mutator on one line.</summary>
    public static readonly IReadOnlyList<Mutator> Jsonl = [.. All, .. JsonMutators.All.Select(OnOneLine)];
}
