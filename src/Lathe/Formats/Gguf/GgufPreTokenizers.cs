using Lathe.Tokenizers;

namespace Lathe.Formats;

/// <summary>What llama.cpp does for each byte-level BPE <c>tokenizer.ggml.pre</c> name (src/llama-vocab.cpp): the split
/// pattern, whether a piece that is itself a token skips the merges (<c>ignore_merges</c>), and whether BOS is added
/// when the file has no <c>tokenizer.ggml.add_bos_token</c>. Names that share a pattern share a matcher; a name
/// llama.cpp knows but Lathe has no matcher for is refused by name, as is one llama.cpp does not know.</summary>
static class GgufPreTokenizers
{
    public readonly record struct Rules(IPreTokenizer PreTokenizer, bool IgnoreMerges, bool AddBos);

    static readonly Dictionary<string, Rules> ByName = Build();

    static Dictionary<string, Rules> Build()
    {
        var table = new Dictionary<string, Rules>(StringComparer.Ordinal);
        void Add(Rules rules, params string[] names) { foreach (string name in names) table[name] = rules; }
        // GPT-2's pattern. "gpt2" is not a llama.cpp name; Lathe's older files wrote it.
        Add(new(Gpt2PreTokenizer.Instance, false, false), "gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat",
            "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "exaone4", "mpt", "olmo", "jais", "trillion",
            "granite-docling");
        // Llama 3's pattern (cl100k's): Llama 3.x and the files converted from its tokenizer.
        Add(new(Cl100kPreTokenizer.Instance, true, true), "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1",
            "pixtral", "midm-2.0", "lfm2", "jina-v5-nano");
        Add(new(Cl100kPreTokenizer.Instance, false, false), "dbrx", "smaug-bpe");
        // Qwen2's: single digits.
        Add(new(Qwen2PreTokenizer.Instance, false, false), "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez",
            "stablelm2", "hunyuan", "solar-open");
        // Tekken (Mistral Nemo, Pixtral 12B, Ministral) and GPT-4o / Llama 4: case splitting on ASCII.
        Add(new(CaseSplitPreTokenizer.Tekken, true, true), "tekken");
        Add(new(CaseSplitPreTokenizer.Gpt4o, false, false), "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2");
        return table;
    }

    /// <summary>The rules for <paramref name="name"/>; an unsupported or missing name is a one-line error naming it.</summary>
    public static Rules For(string? name, string path)
    {
        if (name is not null && ByName.TryGetValue(name, out var rules)) return rules;
        string shown = name is null ? "is missing" : $"'{name}' is not supported";
        throw new InvalidDataException($"{path}: tokenizer.ggml.pre {shown} (supported: gpt-2, llama-bpe, qwen2, tekken, gpt-4o, llama4 and their aliases).");
    }
}
