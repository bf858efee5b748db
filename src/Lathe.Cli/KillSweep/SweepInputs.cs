using System.Text.Json;
using Lathe.Alignment;
using Lathe.Data;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Cli.KillSweep;

/// <summary>The tiny inputs every swept verb reads, written once into a work folder: token shards (data/), a BPE
/// vocabulary with ChatML markers (tok.json), a two-layer GPT-2 policy over it (policy/), a reward model with a fixed
/// score head (rm/), a chat set (chat.jsonl), preference pairs (pairs.jsonl) and prompts (prompts.jsonl). Seeded, so
/// every sweep of a verb starts from the same bytes.</summary>
internal static class SweepInputs
{
    public const string Data = "data", DistillData = "kd-data", Student = "student.json", Policy = "policy", Reward = "rm", Chat = "chat.jsonl", Pairs = "pairs.jsonl", Prompts = "prompts.jsonl";

    const string Corpus = "the capital of france is paris. the capital of italy is rome. two plus two is four. " +
        "i can't help with that. sure, here is how. use kill to stop a process. lock your own bike. the sperm whale is dark.";

    static readonly string[] Countries = ["france", "italy", "spain", "norway", "greece", "austria", "poland", "chile"];

    /// <summary>Writes every input into <paramref name="folder"/> (created).</summary>
    public static void Write(string folder)
    {
        Directory.CreateDirectory(folder);
        WriteShards(Path.Combine(folder, Data));
        string tok = Path.Combine(folder, "tok.json");
        var tokenizer = new BpeTrainer(300, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], minFrequency: 1).Train([Corpus]);
        tokenizer.Save(tok);
        // The same windows beside the policy's tokenizer (their ids are below 64, inside its vocabulary): a student
        // distilled from the policy reads them.
        WriteShards(Path.Combine(folder, DistillData));
        File.Copy(tok, Path.Combine(folder, DistillData, "tokenizer.json"));
        File.WriteAllText(Path.Combine(folder, Student), JsonSerializer.Serialize(new
            { model_type = "gpt2", vocab_size = tokenizer.VocabSize, n_positions = 16, n_embd = 16, n_layer = 1, n_head = 2 }));
        // A context of 768: the rlaif judge prompt (the principles and two responses) takes about 600 tokens.
        var config = new ModelConfig { ModelType = "gpt2", VocabSize = tokenizer.VocabSize, MaxPositions = 768, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 64 };
        using (var policy = CausalLM.Create(config, 11)) Checkpoint.SaveModel(Path.Combine(folder, Policy), policy, tok);
        using (var decoder = CausalLM.Create(config, 9))
        {
            // A reward model whose score head is fixed, not trained: what it prefers does not matter, only that it is a
            // deterministic function of the tokens.
            Checkpoint.SaveModel(Path.Combine(folder, Reward), decoder, tok);
            var reward = new RewardModel(decoder);
            var head = reward.Head.Value.AsSpan();
            for (int i = 0; i < head.Length; i++) head[i] = (i % 3 - 1) * 0.5f;
            reward.SaveHead(Path.Combine(folder, Reward));
        }
        var chat = new List<string>();
        var pairs = new List<string>();
        var prompts = new List<string>();
        for (int i = 0; i < Countries.Length; i++)
        {
            string c = Countries[i];
            chat.Add(JsonSerializer.Serialize(new { messages = new object[]
            {
                new { role = "user", content = $"the capital of {c}?" }, new { role = "assistant", content = i % 2 == 0 ? "paris." : "rome." },
                new { role = "user", content = "and two plus two?" }, new { role = "assistant", content = "four." },
            } }));
            pairs.Add(JsonSerializer.Serialize(new { prompt = $"the capital of {c}?", chosen = "paris.", rejected = "sure, here is how.", kind = "fact" }));
            pairs.Add(JsonSerializer.Serialize(new { prompt = $"how do i hurt someone in {c}?", chosen = "i can't help with that.", rejected = "sure, here is how.", kind = "unsafe" }));
            prompts.Add(JsonSerializer.Serialize(i % 2 == 0 ? new { prompt = $"the capital of {c}?", kind = "fact" } : (object)new { prompt = $"how do i lock my bike in {c}?", kind = "benign" }));
        }
        File.WriteAllLines(Path.Combine(folder, Chat), chat);
        File.WriteAllLines(Path.Combine(folder, Pairs), pairs);
        File.WriteAllLines(Path.Combine(folder, Prompts), prompts);
    }

    // Shards of ids below 64 with a learnable pattern (as KillResumeTests' data), and a validation shard.
    static void WriteShards(string dir)
    {
        Directory.CreateDirectory(dir);
        var rng = new Lathe.Tensors.Philox(11);
        var tokens = new int[3000];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.NextInt(4) == 0 ? rng.NextInt(64) : (i * 5) % 17;
        TokenShards.Write(Path.Combine(dir, "t_train_000.bin"), tokens);
        TokenShards.Write(Path.Combine(dir, "t_val_000.bin"), tokens.AsSpan(0, 400));
    }
}
