using System.Text;
using System.Text.Json;
using Lathe.Evaluation;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Data;
using Lathe.Tokenizers;

namespace Lathe.Tests.Cli;

/// <summary>The README's chain for each architecture, as a new user types it, in a fresh folder and with no hand
/// steps: `tokenizer train` → `data prepare --tokenizer` → `pretrain --config PRESET` (no --vocab-size) →
/// `generate` / `eval loss` for decoders, a loss through the library for BERT and T5 (the eval verb loads
/// decoders only). Tiny dimensions and one thread keep each run to a few seconds.</summary>
public class ChainCliTests
{
    // A slice of the bundled Moby-Dick (the peers' copy), written as the user's corpus file.
    static void WriteCorpus(LatheProcess lathe)
    {
        string chapters = Path.Combine(Peers.Datasets, "moby-dick", "data");
        var sb = new StringBuilder();
        for (int n = 1; n <= 4; n++) sb.Append(File.ReadAllText(Path.Combine(chapters, $"chapter_{n}.txt"))).Append("\n\n");
        File.WriteAllText(lathe.PathOf("corpus.txt"), sb.ToString());
    }

    // tokenizer train → data prepare, exactly as the README shows them; returns the tokenizer's size.
    static int Prepare(LatheProcess lathe)
    {
        WriteCorpus(lathe);
        lathe.RunOk("tokenizer", "train", "--vocab", "400", "--input", "corpus.txt", "--output", "tok.json");
        lathe.RunOk("data", "prepare", "--source", "corpus.txt", "--out", "data", "--tokenizer", "tok.json", "--min-words", "5", "--threads", "1");
        Assert.Equal(File.ReadAllBytes(lathe.PathOf("tok.json")), File.ReadAllBytes(lathe.PathOf("data/tokenizer.json")));
        using var manifest = JsonDocument.Parse(File.ReadAllText(lathe.PathOf("data/manifest.json")));
        int vocab = manifest.RootElement.GetProperty("vocab_size").GetInt32();
        Assert.Equal(TokenizerJson.LoadAny(lathe.PathOf("tok.json")).VocabSize, vocab);
        Assert.True(manifest.RootElement.GetProperty("train_tokens").GetInt64() > 1000);
        return vocab;
    }

    static readonly string[] Small = ["--steps", "4", "--batch-size", "2", "--block-size", "32", "--eval-every", "2", "--threads", "1", "--warmup", "1"];

    // pretrain --config PRESET with tiny dimensions and no --vocab-size; returns the checkpoint's config and tokenizer.
    static (ModelConfig Config, ITokenizer Tokenizer) Pretrain(LatheProcess lathe, string preset, params string[] dims)
    {
        lathe.RunOk(["pretrain", "--config", preset, "--data", "data", "--out", "run", .. dims, .. Small]);
        string checkpoint = lathe.PathOf("run/checkpoint");
        var config = ModelConfig.Load(Path.Combine(checkpoint, "config.json"));
        var tokenizer = TokenizerJson.LoadAny(Path.Combine(checkpoint, "tokenizer.json"));
        Assert.Equal(config.VocabSize, tokenizer.VocabSize);
        var losses = File.ReadAllLines(lathe.PathOf("run/metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty("loss", out _)).Select(e => e.GetProperty("loss").GetDouble()).ToArray();
        Assert.Equal(4, losses.Length);
        Assert.All(losses, l => Assert.True(double.IsFinite(l) && l > 0, $"loss {l}"));
        return (config, tokenizer);
    }

    // A decoder's checkpoint answers `generate` (tokens of its own vocabulary) and `eval loss` (a finite loss).
    static void GenerateAndEval(LatheProcess lathe, ModelConfig config)
    {
        using var reply = JsonDocument.Parse(lathe.RunOk("generate", "--model", "run", "--prompt", "Call me Ishmael.", "--max-tokens", "6", "--temperature", "0", "--json"));
        var tokens = reply.RootElement.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();
        Assert.Equal(6, tokens.Length);
        Assert.All(tokens, t => Assert.InRange(t, 0, config.VocabSize - 1));
        File.WriteAllText(lathe.PathOf("held.txt"), "It is a way I have of driving off the spleen, and regulating the circulation.");
        using var eval = JsonDocument.Parse(lathe.RunOk("eval", "loss", "--model", "run", "--input", "held.txt", "--json"));
        double loss = eval.RootElement.GetProperty("loss").GetDouble();
        Assert.True(double.IsFinite(loss) && loss > 0, $"eval loss {loss}");
    }

    // An encoder's checkpoint scores text through `eval loss`, as a user runs it, under its own objective (masked LM +
    // NSP, span corruption) to a finite loss.
    static void CliLoss(LatheProcess lathe)
    {
        File.WriteAllText(lathe.PathOf("held.txt"), "It is a way I have of driving off the spleen, and regulating the circulation. Whenever I find myself growing grim.");
        using var eval = JsonDocument.Parse(lathe.RunOk("eval", "loss", "--model", "run", "--input", "held.txt", "--block-size", "16", "--json"));
        double loss = eval.RootElement.GetProperty("loss").GetDouble();
        Assert.True(eval.RootElement.GetProperty("tokens").GetInt64() > 0 && double.IsFinite(loss) && loss > 0, $"eval loss {loss}");
    }

    [Fact]
    public void Gpt2_chain_runs_with_no_hand_steps()
    {
        using var lathe = new LatheProcess();
        int vocab = Prepare(lathe);
        var (config, _) = Pretrain(lathe, "gpt2-tiny", "--n-layer", "1", "--n-embd", "32", "--n-head", "2");
        Assert.Equal(vocab, config.VocabSize);   // the preset's 1024 replaced by the tokenizer's size
        GenerateAndEval(lathe, config);
    }

    [Fact]
    public void Llama_chain_runs_with_no_hand_steps()
    {
        using var lathe = new LatheProcess();
        int vocab = Prepare(lathe);   // 400 > llama-tiny's 256: the old "vocab_size 256 is too small" stop
        var (config, _) = Pretrain(lathe, "llama-tiny", "--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--n-kv-head", "1", "--intermediate-size", "64");
        Assert.Equal(("llama", vocab), (config.ModelType, config.VocabSize));
        GenerateAndEval(lathe, config);
    }

    [Fact]
    public void MoE_chain_runs_with_no_hand_steps()
    {
        using var lathe = new LatheProcess();
        int vocab = Prepare(lathe);
        var (config, _) = Pretrain(lathe, "gpt2-tiny", "--n-layer", "2", "--n-embd", "32", "--n-head", "2", "--num-experts", "4", "--experts-per-token", "2");
        Assert.Equal((4, vocab), (config.NumExperts, config.VocabSize));
        GenerateAndEval(lathe, config);
    }

    [Fact]
    public void Bert_chain_adds_its_special_tokens_to_the_tokenizer()
    {
        using var lathe = new LatheProcess();
        int vocab = Prepare(lathe);
        var (config, tokenizer) = Pretrain(lathe, "bert-tiny", "--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--intermediate-size", "64");
        Assert.Equal(vocab + 4, config.VocabSize);
        Assert.Equal((config.ClsId, config.SepId, config.MaskId, config.PadId),
            (tokenizer.SpecialId("[CLS]"), tokenizer.SpecialId("[SEP]"), tokenizer.SpecialId("[MASK]"), tokenizer.SpecialId("[PAD]")));
        Assert.Equal([config.MaskId], tokenizer.Encode("[MASK]"));
        CliLoss(lathe);
    }

    [Fact]
    public void Bert_chain_with_a_wordpiece_tokenizer_uses_its_own_special_ids()
    {
        using var lathe = new LatheProcess();
        WriteCorpus(lathe);
        // Many short documents, so the [SEP] that data prepare writes between them lands in nearly every window.
        var sentences = File.ReadAllText(lathe.PathOf("corpus.txt")).Split('.', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(s => s.Split(' ').Length >= 8).Take(200);
        File.WriteAllLines(lathe.PathOf("docs.jsonl"), sentences.Select(s => JsonSerializer.Serialize(new { text = s + "." })));
        lathe.RunOk("tokenizer", "train", "--type", "wordpiece", "--vocab", "500", "--input", "corpus.txt", "--output", "wp.json");
        lathe.RunOk("data", "prepare", "--source", "docs.jsonl", "--out", "data", "--tokenizer", "wp.json", "--min-words", "5", "--threads", "1");
        var wordPiece = TokenizerJson.LoadAny(lathe.PathOf("wp.json"));
        int sep = wordPiece.SpecialId("[SEP]");
        Assert.Equal(sep, wordPiece.EndOfTextId);
        var (config, tokenizer) = Pretrain(lathe, "bert-tiny", "--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--intermediate-size", "64");
        Assert.Equal(wordPiece.VocabSize, config.VocabSize);   // nothing added: the WordPiece vocabulary has all four
        Assert.Equal((wordPiece.SpecialId("[CLS]"), sep, wordPiece.SpecialId("[MASK]"), wordPiece.SpecialId("[PAD]")),
            (config.ClsId, config.SepId, config.MaskId, config.PadId));
        Assert.Equal(wordPiece.SpecialTokens.OrderBy(s => s.Id), tokenizer.SpecialTokens.OrderBy(s => s.Id));
        CliLoss(lathe);
    }

    [Fact]
    public void T5_chain_adds_pad_eos_and_sentinels_to_the_tokenizer()
    {
        using var lathe = new LatheProcess();
        int vocab = Prepare(lathe);
        var (config, tokenizer) = Pretrain(lathe, "t5-tiny", "--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--intermediate-size", "64");
        Assert.Equal(vocab + 2 + 100, config.VocabSize);
        Assert.Equal((config.DecoderStartTokenId, config.EosTokenId), (tokenizer.SpecialId("<pad>"), tokenizer.SpecialId("</s>")));
        for (int n = 0; n < 100; n++) Assert.Equal(config.VocabSize - 1 - n, tokenizer.SpecialId($"<extra_id_{n}>"));
        CliLoss(lathe);
    }

    [Fact]
    public void T5_chain_with_a_unigram_tokenizer_reuses_its_eos_and_adds_the_rest()
    {
        using var lathe = new LatheProcess();
        WriteCorpus(lathe);
        lathe.RunOk("tokenizer", "train", "--type", "unigram", "--vocab", "500", "--input", "corpus.txt", "--output", "ug.json");
        lathe.RunOk("data", "prepare", "--source", "corpus.txt", "--out", "data", "--tokenizer", "ug.json", "--min-words", "5", "--threads", "1");
        var unigram = TokenizerJson.LoadAny(lathe.PathOf("ug.json"));
        int eos = unigram.SpecialId("</s>");
        Assert.True(eos >= 0 && unigram.SpecialId("<pad>") < 0);
        var (config, tokenizer) = Pretrain(lathe, "t5-tiny", "--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--intermediate-size", "64");
        Assert.Equal((unigram.VocabSize + 1 + 100, eos, unigram.VocabSize), (config.VocabSize, config.EosTokenId, config.DecoderStartTokenId));
        Assert.Equal(unigram.VocabSize, tokenizer.SpecialId("<pad>"));
        for (int n = 0; n < 100; n++) Assert.Equal(config.VocabSize - 1 - n, tokenizer.SpecialId($"<extra_id_{n}>"));
        CliLoss(lathe);
    }

    [Fact]
    public void Shards_of_another_tokenizer_or_no_tokenizer_are_one_line_errors_with_exit_2_and_nothing_written()
    {
        using var lathe = new LatheProcess();
        Prepare(lathe);
        // Another tokenizer put beside the shards.
        lathe.RunOk("tokenizer", "train", "--vocab", "300", "--input", "corpus.txt", "--output", "other.json");
        File.Copy(lathe.PathOf("other.json"), lathe.PathOf("data/tokenizer.json"), overwrite: true);
        var (code, _, stderr) = lathe.Run(["pretrain", "--config", "gpt2-tiny", "--data", "data", "--out", "run", .. Small]);
        Assert.Equal(2, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith($"lathe: data: {Path.Combine("data", "tokenizer.json")} (sha256 ", lines[0]);
        Assert.Contains("is not the tokenizer the shards were made with", lines[0]);
        Assert.False(Directory.Exists(lathe.PathOf("run")));
        // No tokenizer.json at all (and no manifest): the vocabulary size is unknown unless given.
        File.Delete(lathe.PathOf("data/tokenizer.json"));
        File.Delete(lathe.PathOf("data/manifest.json"));
        (code, _, stderr) = lathe.Run(["pretrain", "--config", "gpt2-tiny", "--data", "data", "--out", "run", .. Small]);
        Assert.Equal(2, code);
        Assert.StartsWith($"lathe: data: {Path.Combine("data", "tokenizer.json")} is missing, so the vocabulary size is unknown", stderr.Trim());
        Assert.False(Directory.Exists(lathe.PathOf("run")));
        // A --vocab-size below the shards' ids names the shard.
        (code, _, stderr) = lathe.Run(["pretrain", "--config", "gpt2-tiny", "--vocab-size", "100", "--data", "data", "--out", "run", .. Small]);
        Assert.Equal(2, code);
        Assert.Matches(@"^lathe: data: data/corpus_train_000000\.bin: token id \d+ is outside vocab_size 100 \(100 ids\)$", stderr.Trim());
        Assert.False(Directory.Exists(lathe.PathOf("run")));
    }
}
