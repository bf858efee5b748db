using System.Text;
using System.Text.Json;

namespace Lathe.Tokenizers;

/// <summary>Loads tiktoken's BPE ranks: the standard <c>.tiktoken</c> file (one "base64-token rank" per line) or the
/// JSON the npm package ships (<c>pat_str</c>, <c>special_tokens</c>, and <c>bpe_ranks</c> as "label first-rank
/// base64 base64 …" with consecutive ranks). tiktoken's rule becomes a merge table: every split of a token into two
/// tokens is a merge whose priority is the whole token's rank.</summary>
public static class TiktokenRanks
{
    /// <summary>cl100k_base from the npm package tiktoken under <paramref name="nodeModules"/>.</summary>
    public static Tokenizer Cl100kFromNodeModules(string nodeModules) =>
        LoadPackageJson(Path.Combine(nodeModules, "tiktoken", "encoders", "cl100k_base.json"), Cl100kPreTokenizer.Instance);

    /// <summary>o200k_base from the npm package tiktoken under <paramref name="nodeModules"/>.</summary>
    public static Tokenizer O200kFromNodeModules(string nodeModules) =>
        LoadPackageJson(Path.Combine(nodeModules, "tiktoken", "encoders", "o200k_base.json"), O200kPreTokenizer.Instance);

    public static Tokenizer LoadPackageJson(string path, IPreTokenizer preTokenizer)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        if (!root.TryGetProperty("bpe_ranks", out var ranksEl) || ranksEl.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{path}: field 'bpe_ranks' is missing or not a string.");
        var ranked = new List<(byte[] Bytes, int Rank)>();
        int lineNo = 0;
        foreach (string line in ranksEl.GetString()!.Split('\n'))
        {
            lineNo++;
            if (line.Length == 0) continue;
            var parts = line.Split(' ');
            if (parts.Length < 2 || !int.TryParse(parts[1], out int first))
                throw new InvalidDataException($"{path}: bpe_ranks line {lineNo} does not start with a label and a rank.");
            for (int i = 2; i < parts.Length; i++) ranked.Add((Base64(parts[i], path, lineNo), first + i - 2));
        }
        var specials = new List<(string, int)>();
        if (root.TryGetProperty("special_tokens", out var sp) && sp.ValueKind == JsonValueKind.Object)
            foreach (var p in sp.EnumerateObject()) specials.Add((p.Name, p.Value.GetInt32()));
        return Build(ranked, specials, preTokenizer, path);
    }

    /// <summary>A standard .tiktoken rank file; <paramref name="preTokenizer"/> and the special tokens are the encoding's.</summary>
    public static Tokenizer LoadTiktokenFile(string path, IPreTokenizer preTokenizer, IEnumerable<(string, int)> specials)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        var ranked = new List<(byte[] Bytes, int Rank)>();
        int lineNo = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNo++;
            if (line.Length == 0) continue;
            int space = line.IndexOf(' ');
            if (space <= 0 || !int.TryParse(line.AsSpan(space + 1), out int rank) || rank < 0)
                throw new InvalidDataException($"{path}: line {lineNo} is not 'base64-token rank'.");
            ranked.Add((Base64(line[..space], path, lineNo), rank));
        }
        return Build(ranked, specials, preTokenizer, path);
    }

    static byte[] Base64(string s, string path, int line)
    {
        try { return Convert.FromBase64String(s); }
        catch (FormatException) { throw new InvalidDataException($"{path}: line {line}: '{s}' is not base64."); }
    }

    static Tokenizer Build(List<(byte[] Bytes, int Rank)> ranked, IEnumerable<(string, int)> specials, IPreTokenizer preTokenizer, string path)
    {
        int size = ranked.Count;
        var tokens = new byte[size][];
        foreach (var (bytes, rank) in ranked)
        {
            if ((uint)rank >= (uint)size || tokens[rank] is not null)
                throw new InvalidDataException($"{path}: ranks are not the numbers 0..{size - 1} each once (rank {rank}).");
            tokens[rank] = bytes;
        }
        var byBytes = new Dictionary<string, int>(size, StringComparer.Ordinal);
        for (int r = 0; r < size; r++) byBytes[Convert.ToBase64String(tokens[r])] = r;
        var merges = new List<(int, int)>();
        var priorities = new List<int>();
        for (int r = 0; r < size; r++)
        {
            byte[] t = tokens[r];
            for (int cut = 1; cut < t.Length; cut++)
                if (byBytes.TryGetValue(Convert.ToBase64String(t, 0, cut), out int left) &&
                    byBytes.TryGetValue(Convert.ToBase64String(t, cut, t.Length - cut), out int right))
                {
                    merges.Add((left, right));
                    priorities.Add(r);
                }
        }
        var model = new BpeModel(tokens, merges, priorities, path) { WholePieceFirst = true };
        return new Tokenizer(model, preTokenizer, specials);
    }
}
