using Lathe.Data;
using Lathe.Evaluation;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tests.Inference;
using Lathe.Tokenizers;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Tests.Evaluation;

/// <summary>Exact match of greedy answers, on a toy model fine-tuned (through the whole SFT path) to answer four
/// questions: before, it answers none; after, its answers are exactly the references.</summary>
public class ExactMatchTests
{
    static readonly ChatConversation[] Questions =
    [
        new("q:1", [new("user", "2+2?"), new("assistant", "4")]),
        new("q:2", [new("user", "Capital of France?"), new("assistant", "Paris.")]),
        new("q:3", [new("user", "Opposite of hot?"), new("assistant", "cold.")]),
        new("q:4", [new("system", "Be brief."), new("user", "Symbol of gold?"), new("assistant", "Au.")]),
    ];

    [Theory]
    [InlineData(" Paris. ", "paris")]
    [InlineData("Paris", "paris")]
    [InlineData("42", "42")]
    [InlineData("4.2", "4.2")]
    [InlineData("cold .", "cold")]
    public void Answers_are_compared_trimmed_case_folded_without_a_final_period(string answer, string normal) =>
        Assert.Equal(normal, ExactMatch.Normalize(answer));

    [Fact]
    public void A_toy_model_fine_tuned_on_the_questions_answers_them_exactly()
    {
        // A small byte-level BPE learned from the conversations themselves.
        var tokenizer = new BpeTrainer(300, ["<|endoftext|>"], minFrequency: 1).Train(
            [string.Join("\n", Questions.SelectMany(q => q.Messages).Select(m => "User: " + m.Content + "\nAssistant: " + m.Content))]);
        var config = new ModelConfig { ModelType = "gpt2", VocabSize = 300, MaxPositions = 32, Embd = 48, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 96 };
        var template = ChatTemplate.Named("plain");   // "User: …\nAssistant:" + " answer\n": short prompts of byte tokens
        using var loaded = new LoadedModel(CausalLM.Create(config, 4), tokenizer);
        var before = ExactMatch.Evaluate(loaded, template, Questions, maxTokens: 8);
        Assert.Equal((0, 4), (before.Correct, before.Total));

        var (examples, stats) = new SftEncoder(template, tokenizer, null, 24, OverlongPolicy.Drop).EncodeAll(Questions);
        Assert.Equal(4, stats.Examples);
        var options = new TrainingOptions
        {
            Steps = 80, BatchSize = 4, BlockSize = 24, LearningRate = 1e-2f, WarmupSteps = 10, EvalEvery = 0, CheckpointEvery = 0, Seed = 1,
        };
        using (var trainer = new Trainer(loaded.Model, options, new SftBatchSource(examples, SequenceMode.Padded, seed: 2), null, null, null, new SftObjective()))
            for (int i = 0; i < options.Steps; i++) trainer.TrainStep();

        var after = ExactMatch.Evaluate(loaded, template, Questions, maxTokens: 8);
        Assert.Equal((4, 4), (after.Correct, after.Total));
        // The raw answers: the reply's leading space, stopped before the turn's end "\n".
        Assert.Equal([" 4", " Paris.", " cold.", " Au."], after.Items.Select(i => i.Answer));
        Assert.Equal(1.0, after.Accuracy);
    }

    [Fact]
    public void A_conversation_without_a_final_answer_is_named()
    {
        using var loaded = new LoadedModel(CausalLM.Create(new ModelConfig { ModelType = "gpt2", VocabSize = 256, MaxPositions = 16, Embd = 16, Layers = 1, Heads = 1, KvHeads = 1, Intermediate = 32 }, 1), ToyTokenizer.Bytes);
        var e = Assert.Throws<ArgumentException>(() => ExactMatch.Evaluate(loaded, ChatTemplate.Named("plain"), [new("f:7", [new("user", "Hi")])]));
        Assert.Contains("f:7", e.Message);
    }
}
