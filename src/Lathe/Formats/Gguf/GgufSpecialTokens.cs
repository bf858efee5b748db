using Lathe.Tokenizers;

namespace Lathe.Formats;

/// <summary>How llama.cpp treats a vocabulary's special tokens beyond what <c>tokenizer.ggml.token_type</c> says
/// (llama_vocab::impl::load): end of turn and end of message found by their text when the file names no id, the
/// set of ids that end generation (EOS, EOT, EOM, the FIM pad/repo/separator tokens and every token whose text is a
/// known end-of-turn marker: &lt;|eot_id|&gt;, &lt;|im_end|&gt;, &lt;|end|&gt;, &lt;end_of_turn&gt;, …), tokens that
/// look like control tokens made control, and Phi-3's "strip spaces right of a special token". Where llama.cpp picks
/// the first match in hash order (more than one end-of-turn text in one vocabulary), this picks the first in the
/// order of its list.</summary>
sealed class GgufSpecialTokens
{
    /// <summary>The texts llama.cpp takes for end of turn when the file names none, in the order it lists them.</summary>
    internal static readonly string[] EotTexts =
    [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
        "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ];
    static readonly string[] FimPrefixTexts = ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"];
    static readonly string[] FimSuffixTexts = ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"];
    static readonly string[] FimMiddleTexts = ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"];
    static readonly string[] FimPadTexts = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
    static readonly string[] FimRepoTexts = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"];
    static readonly string[] FimSeparatorTexts = ["<|file_sep|>"];
    static readonly HashSet<string> EndOfGenerationTexts = new(StringComparer.Ordinal)
    {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    };
    // gpt-oss: llama.cpp always renders these, as user-defined tokens.
    static readonly string[] AlwaysRendered = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"];

    /// <summary>Token types after llama.cpp's overrides (control-looking tokens made control, and so on).</summary>
    public GgmlTokenType[] Types { get; }
    /// <summary>Per token: spaces right of it are dropped when it is found in text (Phi-3's rule).</summary>
    public bool[] StripRight { get; }
    public int EotId { get; }
    public int EomId { get; }
    /// <summary>Ids that end generation, ascending.</summary>
    public int[] EndOfGeneration { get; }

    /// <summary>Applies llama.cpp's rules; ids are -1 when the file has no such key.</summary>
    public GgufSpecialTokens(string[] tokens, GgmlTokenType[] types, string? modelName, int eos, int eot, int eom, int fimPad, int fimRepo, int fimSeparator)
    {
        Types = (GgmlTokenType[])types.Clone();
        StripRight = new bool[tokens.Length];
        var ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) ids[tokens[i]] = i;   // llama.cpp's token_to_id: the last id of a text

        int Find(int explicitId, string[] texts)
        {
            if (explicitId >= 0) return explicitId;
            foreach (string text in texts)
                if (ids.TryGetValue(text, out int id)) { MakeControl(id); return id; }
            return -1;
        }
        EotId = Find(eot, EotTexts);
        EomId = Find(eom, ["<|eom_id|>"]);
        Find(-1, FimPrefixTexts); Find(-1, FimSuffixTexts); Find(-1, FimMiddleTexts);
        fimPad = Find(fimPad, FimPadTexts);
        fimRepo = Find(fimRepo, FimRepoTexts);
        fimSeparator = Find(fimSeparator, FimSeparatorTexts);

        var eog = new SortedSet<int>();
        foreach (int id in new[] { fimPad, fimRepo, fimSeparator }) if (id >= 0) eog.Add(id);
        for (int i = 0; i < tokens.Length; i++)
            if (EndOfGenerationTexts.Contains(tokens[i]) && ids[tokens[i]] == i) { eog.Add(i); MakeControl(i); }
        foreach (string text in AlwaysRendered) if (ids.TryGetValue(text, out int id)) Types[id] = GgmlTokenType.UserDefined;
        foreach (int id in new[] { eos, EotId, EomId }) if (id >= 0) eog.Add(id);
        // gpt-oss and Solar Open: <|end|> ends a message, not the generation, when <|return|> and <|call|> (or
        // <|calls|> and <|flush|>) do.
        bool Has(string text) => ids.TryGetValue(text, out int id) && eog.Contains(id);
        if (Has("<|end|>") && ((Has("<|return|>") && Has("<|call|>")) || (Has("<|calls|>") && Has("<|flush|>"))))
        {
            eog.Remove(ids["<|end|>"]);
            Types[ids["<|end|>"]] = GgmlTokenType.UserDefined;
        }
        // Gemma 4 and PaddleOCR: </s> is ordinary text when <|tool_response> ends generation.
        if (Has("<|tool_response>") && Has("</s>"))
        {
            eog.Remove(ids["</s>"]);
            Types[ids["</s>"]] = GgmlTokenType.Normal;
        }
        EndOfGeneration = eog.ToArray();

        string name = (modelName ?? "").ToLowerInvariant();
        if (name.Contains("phi-3", StringComparison.Ordinal) || name.Contains("phi3", StringComparison.Ordinal))
        {
            for (int i = 0; i < tokens.Length; i++) StripRight[i] = IsSpecial(Types[i]);
            if (ids.TryGetValue("</s>", out int close)) StripRight[close] = true;
            foreach (string text in new[] { "<unk>", "<s>", "<|endoftext|>" })
                if (ids.TryGetValue(text, out int id)) StripRight[id] = false;
        }
    }

    void MakeControl(int id)
    {
        if (Types[id] != GgmlTokenType.Control) Types[id] = GgmlTokenType.Control;
    }

    /// <summary>Whether llama.cpp looks for the token in text before tokenizing (its special-token cache).</summary>
    public static bool IsSpecial(GgmlTokenType type) => type is GgmlTokenType.Control or GgmlTokenType.UserDefined or GgmlTokenType.Unknown;
}
