using System.Text;
using System.Text.Json;
using Lathe.Inference;
using Lathe.Inference.Constraints;
using Lathe.Tensors;
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

    /// <summary>Samples one output: fresh standard-normal logits each step (V = the tokenizer's vocabulary plus
    /// <paramref name="padding"/> rows, as a model's padded vocab_size has), masked by the processor, drawn by
    /// <see cref="SamplerChain"/> at temperature 1 with every truncation off. Ends at a stop token, at the processor's
    /// IsComplete, or after <paramref name="maxSteps"/>.</summary>
    public static (byte[] Bytes, bool Ended, int Steps) Sample(ITokenizer tokenizer, ILogitsProcessor processor, ulong seed, int stop,
        int maxSteps = 4000, int padding = 3)
    {
        int V = tokenizer.VocabSize + padding;
        var rng = new Philox(seed * 7919 + 17);
        var sampler = new SamplerChain(new SamplingOptions { Temperature = 1, TopK = 0, TopP = 1, MinP = 0, Seed = seed });
        var logits = new float[V];
        var history = new List<int>();
        var bytes = new List<byte>();
        for (int step = 0; step < maxSteps; step++)
        {
            for (int i = 0; i < V; i++) logits[i] = rng.NextNormal() * 2;
            processor.Process(logits);
            int token = sampler.Sample(logits, [.. history]);
            Assert.True(float.IsFinite(logits[token]), $"seed {seed}: sampled masked token {token}");
            if (token == stop) return ([.. bytes], true, step);
            processor.Accept(token);
            history.Add(token);
            bytes.AddRange(tokenizer.DecodeBytes([token]));
            if (processor.IsComplete) return ([.. bytes], true, step + 1);
        }
        return ([.. bytes], false, maxSteps);
    }

    /// <summary>The bytes as strict UTF-8 (an invalid sequence throws).</summary>
    public static string Utf8(byte[] bytes) => new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
}
