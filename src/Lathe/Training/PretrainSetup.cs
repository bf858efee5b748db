using Lathe.Training.Objectives;
using Lathe.Data;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Training;

/// <summary>Everything `pretrain` decides before the first step, from a model config and a data folder: the
/// vocabulary size and special ids (taken from the folder's tokenizer.json; BERT's [CLS] [SEP] [MASK] [PAD] and
/// T5's &lt;pad&gt; &lt;/s&gt; &lt;extra_id_N&gt; are added to the tokenizer when missing), the checks that the
/// shards fit that tokenizer, the streaming batch source and the validation tokens. Every check runs before
/// anything is written, and each failure is one line naming the file.</summary>
public sealed class PretrainSetup
{
    /// <summary>T5's sentinel count in Hugging Face's tokenizers (&lt;extra_id_0&gt; … &lt;extra_id_99&gt;).</summary>
    public const int T5Sentinels = 100;
    /// <summary>BERT's special tokens, in the order they are added.</summary>
    public static readonly string[] BertSpecials = ["[CLS]", "[SEP]", "[MASK]", "[PAD]"];

    /// <summary>The config to train: vocabulary size and special ids resolved.</summary>
    public ModelConfig Config { get; }
    /// <summary>The data folder.</summary>
    public ShardFolder Data { get; }
    /// <summary>The tokenizer the checkpoint will carry (with any added special tokens); null when the folder has none.</summary>
    public ITokenizer? Tokenizer { get; }

    PretrainSetup(ModelConfig config, ShardFolder data, ITokenizer? tokenizer)
    {
        Config = config; Data = data; Tokenizer = tokenizer;
    }

    /// <summary>Resolves a new run. <paramref name="vocabSizeGiven"/> says the config's vocab_size was chosen by the
    /// user (--vocab-size or their own config.json) rather than by a preset: then it is kept when larger than the
    /// tokenizer's size; a preset's vocab_size is replaced by the tokenizer's size exactly. Without a tokenizer.json
    /// in the folder the vocab_size must be given.</summary>
    public static PretrainSetup ForNewRun(ModelConfig config, string dataDir, bool vocabSizeGiven)
    {
        var data = ShardFolder.Open(dataDir);
        if (data.TokenizerPath is null)
        {
            if (!vocabSizeGiven)
                throw new InvalidDataException($"data: {Path.Combine(dataDir, ShardFolder.TokenizerFile)} is missing, so the vocabulary size is unknown; " +
                    "make the shards with `lathe data prepare --tokenizer …` or pass --vocab-size");
            data.CheckTokenIds(config.VocabSize, $"vocab_size {config.VocabSize}");
            return new PretrainSetup(config.Validate(), data, null);
        }
        var tokenizer = TokenizerJson.LoadAny(data.TokenizerPath);
        if (data.Manifest is { } m && m.VocabSize != tokenizer.VocabSize)
            throw new InvalidDataException($"data: {Path.Combine(dataDir, ShardManifest.FileName)}: vocab_size {m.VocabSize} but {data.TokenizerPath} has {tokenizer.VocabSize} ids");
        data.CheckTokenIds(tokenizer.VocabSize, $"the tokenizer {data.TokenizerPath}");
        int own = tokenizer.VocabSize;
        (config, tokenizer) = config.ModelType switch
        {
            "bert" => WithBertSpecials(config, tokenizer, data.TokenizerPath),
            "t5" => WithT5Specials(config, tokenizer, data.TokenizerPath, vocabSizeGiven),
            _ => (config, tokenizer),
        };
        int size = tokenizer.VocabSize;
        if (vocabSizeGiven && config.VocabSize < size)
            throw new InvalidDataException($"config: vocab_size {config.VocabSize} is smaller than the tokenizer's {size} ids ({data.TokenizerPath}" +
                $"{(size > own ? $" with {size - own} added special tokens" : "")})");
        if (!vocabSizeGiven || config.ModelType == "t5") config = config with { VocabSize = size };
        return new PretrainSetup(config.Validate(), data, tokenizer);
    }

    /// <summary>Resumes a run: the config comes from the checkpoint; the shards must still fit its vocabulary and
    /// match the folder's tokenizer (manifest fingerprint).</summary>
    public static PretrainSetup ForResume(ModelConfig checkpointConfig, string dataDir, string checkpointDir)
    {
        var data = ShardFolder.Open(dataDir);
        data.CheckTokenIds(checkpointConfig.VocabSize, $"vocab_size {checkpointConfig.VocabSize} of {Path.Combine(checkpointDir, Checkpoint.ConfigFile)}");
        string saved = Path.Combine(checkpointDir, Checkpoint.TokenizerFile);
        ITokenizer? tokenizer = File.Exists(saved) ? TokenizerJson.LoadAny(saved) : data.TokenizerPath is { } p ? TokenizerJson.LoadAny(p) : null;
        return new PretrainSetup(checkpointConfig, data, tokenizer);
    }

    // BERT: the four specials are added when missing; the config's ids are set from the tokenizer (an explicit id
    // in the config that disagrees with the tokenizer is an error rather than a silent override).
    static (ModelConfig, ITokenizer) WithBertSpecials(ModelConfig config, ITokenizer tokenizer, string path)
    {
        var t = tokenizer.WithSpecialTokens(BertSpecials);
        int cls = t.SpecialId("[CLS]"), sep = t.SpecialId("[SEP]"), mask = t.SpecialId("[MASK]"), pad = t.SpecialId("[PAD]");
        void Agree(int? given, int id, string field, string text)
        {
            if (given is { } g && g != id) throw new InvalidDataException($"config: {field} {g} disagrees with {text} = {id} in {path}");
        }
        Agree(config.ClsTokenId, cls, "cls_token_id", "[CLS]");
        Agree(config.SepTokenId, sep, "sep_token_id", "[SEP]");
        Agree(config.MaskTokenId, mask, "mask_token_id", "[MASK]");
        Agree(config.PadTokenId, pad, "pad_token_id", "[PAD]");
        return (config with { ClsTokenId = cls, SepTokenId = sep, MaskTokenId = mask, PadTokenId = pad }, t);
    }

    // T5: <pad> (= decoder start, as in Hugging Face) and </s> (eos), then the sentinels at the top of the vocabulary
    // in the order SpanCorruption reads them: <extra_id_N> = vocab_size − 1 − N.
    static (ModelConfig, ITokenizer) WithT5Specials(ModelConfig config, ITokenizer tokenizer, string path, bool vocabSizeGiven)
    {
        // The spans of the longest row the config allows bound the sentinels a batch can use.
        int spans = new SpanCorruption(Math.Max(2, config.MaxPositions + 1), int.MaxValue, 0, 0).Spans;
        var t = tokenizer.WithSpecialTokens(["<pad>", "</s>"]);
        if (t.SpecialId("<extra_id_0>") < 0)
        {
            int count = Math.Max(T5Sentinels, spans);
            var sentinels = new string[count];
            for (int n = 0; n < count; n++) sentinels[n] = $"<extra_id_{count - 1 - n}>";
            t = t.WithSpecialTokens(sentinels);
        }
        int size = t.VocabSize, present = 0;
        while (t.SpecialId($"<extra_id_{present}>") >= 0) present++;
        for (int n = 0; n < Math.Max(present, spans); n++)
        {
            int id = t.SpecialId($"<extra_id_{n}>");
            if (id != size - 1 - n)
                throw new InvalidDataException($"data: {path}: <extra_id_{n}> is {(id < 0 ? "missing" : $"id {id}")}, but t5 needs sentinel N at vocab_size − 1 − N = {size - 1 - n}");
        }
        if (vocabSizeGiven && config.VocabSize > size)
            throw new InvalidDataException($"config: vocab_size {config.VocabSize}: t5's sentinels sit at the top of the vocabulary, so it must equal the tokenizer's {size} ids ({path} with its special tokens)");
        return (config with { EosTokenId = t.SpecialId("</s>"), DecoderStartTokenId = t.SpecialId("<pad>") }, t);
    }

    /// <summary>Writes the tokenizer (with its added special tokens) as <paramref name="dir"/>/tokenizer.json, atomically,
    /// and returns the path (the trainer copies it into every checkpoint); null when there is no tokenizer.</summary>
    public string? WriteTokenizer(string dir)
    {
        if (Tokenizer is null) return null;
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, Checkpoint.TokenizerFile);
        Tokenizer.Save(path);   // ITokenizer.Save writes through AtomicFile
        return path;
    }

    /// <summary>The training batches: the folder's training ranges through the memory-mapped loader.</summary>
    public ShardBatchSource CreateBatchSource(TrainingOptions options) => new(Data, options.BatchSize, options.BlockSize, options.Seed);

    /// <summary>The validation tokens evaluation reads: at most EvalBatches batches of (B, T) plus the last target.</summary>
    public int[] ReadValidation(TrainingOptions options) =>
        Data.ReadValidation((long)options.EvalBatches * options.BatchSize * options.BlockSize + 1);

}
