using System.Text;
using Lathe.Inference;
using Lathe.Knowledge;
using Lathe.Knowledge.Grounding;
using Lathe.Tests.Inference.Constraints;
using Lathe.Tokenizers;

namespace Lathe.Tests.Knowledge.Grounding;

/// <summary>KG-constrained decoding with a real byte-level BPE (trained here on grounded prompts, so answers span
/// several tokens and tokens span the leading space): from random logits, and from a "model" that wants a wrong
/// answer, only the allowed answers come out, each ended; abstention only when allowed.</summary>
public class KgAnswerConstraintTests
{
    internal static Tokenizer Bpe => LazyBpe.Value;
    static readonly Lazy<Tokenizer> LazyBpe = new(() => new BpeTrainer(400, ["<|endoftext|>"], minFrequency: 1).Train([Corpus()]));

    static string Corpus()
    {
        var s = new StringBuilder();
        string[] names = ["France", "Spain", "Italy", "Georgia", "Papua New Guinea", "Paris", "Madrid", "Rome", "London", "Lyon", "Parma"];
        for (int i = 0; i < 60; i++)
            foreach (var n in names)
                s.Append($"Facts:\n- The capital of {n} is {names[(i + n.Length) % names.Length]}.\nQuestion: What is the capital of {n}?\nAnswer: {names[i % names.Length]}\n");
        s.Append("Answer: I don't know.\nThe area is 551695 or 551,695 square kilometres.\n");
        return s.ToString();
    }

    static string Answer(byte[] bytes)
    {
        string text = ConstraintTestSupport.Utf8(bytes);
        if (text.StartsWith(' ')) text = text[1..];
        return text.EndsWith(GroundedPrompt.AnswerEnd, StringComparison.Ordinal) ? text[..^GroundedPrompt.AnswerEnd.Length] : text;
    }

    [Fact]
    public void Sampled_answers_are_always_one_of_the_graphs_and_they_end()
    {
        var tok = Bpe;
        int eot = tok.EndOfTextId;
        string[] answers = ["Paris", "Papua New Guinea", "Par", "551695", "551,695"];
        var factory = KgAnswerConstraint.For(tok, answers, [eot], allowAbstain: false);
        var seen = new HashSet<string>();
        for (ulong seed = 0; seed < 300; seed++)
        {
            var (bytes, ended, steps) = ConstraintTestSupport.Sample(tok, factory(), seed, eot, maxSteps: 64);
            Assert.True(ended, $"seed {seed}: no end after {steps} tokens");
            string a = Answer(bytes);
            Assert.Contains(a, answers);
            seen.Add(a);
        }
        Assert.Equal(answers.Order(), seen.Order());   // every answer is reachable, "Par" (a prefix of "Paris") included
    }

    [Fact]
    public void Abstention_comes_out_only_when_allowed()
    {
        var tok = Bpe;
        int eot = tok.EndOfTextId;
        var with = KgAnswerConstraint.For(tok, ["Rome"], [eot], allowAbstain: true);
        var outputs = Enumerable.Range(0, 100).Select(s => Answer(ConstraintTestSupport.Sample(tok, with(), (ulong)s, eot, maxSteps: 64).Bytes)).ToHashSet();
        Assert.Equal(["I don't know.", "Rome"], outputs.Order());
        var without = KgAnswerConstraint.For(tok, ["Rome"], [eot], allowAbstain: false);
        Assert.All(Enumerable.Range(0, 50), s => Assert.Equal("Rome", Answer(ConstraintTestSupport.Sample(tok, without(), (ulong)s, eot, maxSteps: 64).Bytes)));
        Assert.Throws<ArgumentException>(() => KgAnswerConstraint.For(tok, [], [eot], allowAbstain: false));
        Assert.Equal(GroundedPrompt.Abstain, Answer(ConstraintTestSupport.Sample(tok, KgAnswerConstraint.For(tok, [], [eot], true)(), 1, eot).Bytes));
    }

    [Fact]
    public void A_model_that_wants_a_wrong_answer_is_held_to_the_graphs()
    {
        // The "model": greedy, and every step it puts the highest logit on the next token of " London\n".
        var tok = Bpe;
        int eot = tok.EndOfTextId;
        var wrong = tok.Encode(" London\n", allowSpecial: false);
        var processor = KgAnswerConstraint.For(tok, ["Paris", "Madrid"], [eot], allowAbstain: false)();
        var sampler = new SamplerChain(new SamplingOptions { Temperature = 0 });
        var logits = new float[tok.VocabSize];
        var output = new List<int>();
        for (int step = 0; step < 16 && !processor.IsComplete; step++)
        {
            for (int i = 0; i < logits.Length; i++) logits[i] = -(i % 7);   // a fixed, uneven preference
            logits[wrong[Math.Min(step, wrong.Count - 1)]] = 100;
            int token = sampler.Sample(logits, [], processor);
            if (token == eot) break;
            processor.Accept(token);
            output.Add(token);
        }
        Assert.True(processor.IsComplete);
        Assert.Contains(Answer(tok.DecodeBytes(output)), new[] { "Paris", "Madrid" });
        // A forbidden first token is masked: the wrong answer's first token and the end of text.
        var fresh = KgAnswerConstraint.For(tok, ["Paris", "Madrid"], [eot], allowAbstain: false)();
        Array.Fill(logits, 0f);
        fresh.Process(logits);
        Assert.True(float.IsNegativeInfinity(logits[wrong[0]]));
        Assert.True(float.IsNegativeInfinity(logits[eot]));
    }

    [Fact]
    public void With_the_gpt2_vocabulary_only_the_answers_come_out()
    {
        // The real 50,257-token GPT-2 vocabulary (from the llama.cpp-made GGUF fixture), with non-ASCII answers whose
        // characters span several bytes and tokens.
        string gguf = Path.Combine(AppContext.BaseDirectory, "Inference", "fixtures", "gguf", "gpt2vocab-q8_0.gguf");
        using var model = Lathe.Inference.ModelLoader.Load(gguf);
        var tok = model.Tokenizer;
        int eot = tok.EndOfTextId;
        string[] answers = ["Paris", "Côte d'Ivoire", "São Tomé and Príncipe", "551,695", "I don't know."];
        var factory = KgAnswerConstraint.For(tok, answers[..4], [eot], allowAbstain: true);
        var seen = new HashSet<string>();
        for (ulong seed = 0; seed < 150; seed++)
        {
            var (bytes, ended, steps) = ConstraintTestSupport.Sample(tok, factory(), seed, eot, maxSteps: 64, padding: 0);
            Assert.True(ended, $"seed {seed}: no end after {steps} tokens");
            string a = Answer(bytes);
            Assert.Contains(a, answers);
            seen.Add(a);
        }
        Assert.Equal(answers.Order(), seen.Order());
    }

    [Fact]
    public void Numbers_are_allowed_in_their_plain_and_grouped_forms()
    {
        Assert.Equal(["551695", "551,695"], KgAnswerConstraint.NumberForms("551695"));
        Assert.Equal(["1234567.5", "1,234,567.5"], KgAnswerConstraint.NumberForms("1234567.5"));
        Assert.Equal(["26"], KgAnswerConstraint.NumberForms("26"));
        Assert.Equal(["-20000", "-20,000"], KgAnswerConstraint.NumberForms("-20000"));
    }
}
