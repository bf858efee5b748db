using System.Text;
using System.Text.Json;
using Lathe.Inference;
using Lathe.Inference.Constraints;
using Lathe.Tokenizers;

namespace Lathe.Tests.Inference.Constraints;

/// <summary>What the constraint tests share: schemas compiled to automata, a small BPE vocabulary trained on JSON-like
/// text, and sampling through <see cref="SamplerChain"/> from random logits with a processor in the loop.</summary>
static class ConstraintTestSupport
{
    public static GrammarAutomaton Automaton(string schemaJson)
    {
        using var doc = JsonDocument.Parse(schemaJson);
        return new GrammarAutomaton(JsonSchemaConstraint.Compile(doc.RootElement, "schema"));
    }

    public static bool Accepts(this GrammarAutomaton automaton, string text) => automaton.Accepts(Encoding.UTF8.GetBytes(text));

    /// <summary>A byte-level BPE of ~700 tokens trained on JSON text (keys, numbers, escapes, non-ASCII), with
    /// &lt;|endoftext|&gt; as a special token: tokens that span quotes, commas and brackets, as real vocabularies have.</summary>
    public static Tokenizer JsonBpe => LazyBpe.Value;
    static readonly Lazy<Tokenizer> LazyBpe = new(() => new BpeTrainer(700, ["<|endoftext|>"], minFrequency: 1).Train([Corpus()]));

    static string Corpus()
    {
        var rng = new Random(7);
        string[] words = ["name", "age", "city", "Paris", "value", "children", "tags", "color", "red", "green", "true", "false", "null",
            "weather", "get_weather", "arguments", "unit", "celsius", "café", "naïve", "日本", "emoji 😀", "line\\nbreak", "quote \\\"q\\\"", "back\\\\slash", "\\u00e9"];
        var s = new StringBuilder();
        for (int i = 0; i < 400; i++)
        {
            string w() => words[rng.Next(words.Length)];
            s.Append(rng.Next(4) switch
            {
                0 => $"{{\"{w()}\": \"{w()}\", \"{w()}\": {rng.Next(-500, 500)}}}\n",
                1 => $"[{rng.NextDouble() * 100:F3}, {rng.Next(10)}e{rng.Next(-3, 3)}, \"{w()}\"]\n",
                2 => $"{{\"{w()}\":[{{\"{w()}\":null}},{{\"{w()}\":true}}],\"{w()}\":-{rng.Next(100)}.5}}\n",
                _ => $"<tool_call>\n{{\"name\": \"{w()}\", \"arguments\": {{\"{w()}\": \"{w()}\"}}}}\n</tool_call>\n",
            });
        }
        return s.ToString();
    }

    /// <summary>Samples one output: fresh uniform logits in [-3, 3) each step (V = the tokenizer's vocabulary plus
    /// <paramref name="padding"/> rows, as a model's padded vocab_size has), masked by the processor, drawn by
    /// <see cref="SamplerChain"/> at temperature 1 with every truncation off. Ends at a stop token, at the processor's
    /// IsComplete, or after <paramref name="maxSteps"/>. Temperature 0 is greedy: over fresh random logits, a uniform
    /// pick among the allowed tokens. <paramref name="forced"/> tokens come first (each checked to be allowed).</summary>
    public static (byte[] Bytes, bool Ended, int Steps) Sample(ITokenizer tokenizer, ILogitsProcessor processor, ulong seed, int stop,
        int maxSteps = 4000, int padding = 3, float temperature = 1, IReadOnlyList<int>? forced = null)
    {
        int V = tokenizer.VocabSize + padding;
        ulong x = seed * 0x9E3779B97F4A7C15UL + 0x2545F4914F6CDD1DUL;   // xorshift64*: cheap, and any spread of logits will do
        var sampler = new SamplerChain(new SamplingOptions { Temperature = temperature, TopK = 0, TopP = 1, MinP = 0, Seed = seed });
        var logits = new float[V];
        var bytes = new List<byte>();
        foreach (int token in forced ?? [])
        {
            Array.Clear(logits);
            processor.Process(logits);
            Assert.True(float.IsFinite(logits[token]), $"forced token {token} is masked");
            processor.Accept(token);
            bytes.AddRange(tokenizer.DecodeBytes([token]));
        }
        for (int step = 0; step < maxSteps; step++)
        {
            for (int i = 0; i < V; i++)
            {
                x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
                logits[i] = ((x * 0x2545F4914F6CDD1DUL) >> 40) * (6f / (1 << 24)) - 3;
            }
            processor.Process(logits);
            int token = sampler.Sample(logits, []);   // no penalties, so no history
            Assert.True(float.IsFinite(logits[token]), $"seed {seed}: sampled masked token {token}");
            if (token == stop) return ([.. bytes], true, step);
            processor.Accept(token);
            bytes.AddRange(tokenizer.DecodeBytes([token]));
            if (processor.IsComplete) return ([.. bytes], true, step + 1);
        }
        return ([.. bytes], false, maxSteps);
    }

    /// <summary>Random logits nest as deep as they happen to (the grammar does not bound nesting), deeper than
    /// System.Text.Json's default limit of 64.</summary>
    public static readonly JsonDocumentOptions DeepJson = new() { MaxDepth = 1000 };

    /// <summary>The bytes as strict UTF-8 (an invalid sequence throws).</summary>
    public static string Utf8(byte[] bytes) => new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
}
