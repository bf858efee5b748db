using System.Text;
using System.Text.Json;
using Lathe.Inference;
using Lathe.Inference.Constraints;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tests.Inference.Constraints;

/// <summary>The token-level processor never lets an invalid token through: outputs sampled from random logits at
/// temperature 1 through <see cref="SamplerChain"/>, with the processor masking, always parse (System.Text.Json, strict
/// UTF-8) and validate against the schema (<see cref="SchemaValidator"/>, written from the JSON Schema rules), for
/// 200 seeds per schema; the grammar's own acceptance is checked as well, second.</summary>
public class JsonConstraintSamplingTests
{
    public static TheoryData<string, string> Schemas => new()
    {
        { "person", """
            {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"email":{"type":["string","null"]},
             "tags":{"type":"array","items":{"type":"string","enum":["red","green","café"]},"maxItems":4}},
             "required":["name","age"],"additionalProperties":false}
            """ },
        { "tree", """
            {"$defs":{"node":{"type":"object","properties":{"v":{"type":"number"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":1}},
              "required":["v","kids"],"additionalProperties":false}},"$ref":"#/$defs/node"}
            """ },
        { "mixed", """
            {"type":"object","properties":{
               "kind":{"const":"event"},
               "when":{"anyOf":[{"type":"integer"},{"type":"string"},{"type":"null"}]},
               "point":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"],"additionalProperties":false},
               "flags":{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":3},
               "note":{"type":"string"}},
             "required":["kind","point","flags"],"additionalProperties":false}
            """ },
        { "map", """{"type":"object","additionalProperties":{"type":["integer","boolean"]}}""" },
        { "enum-root", """{"enum":["a","b",{"c":[1,2]},null,-0.5]}""" },
    };

    [Theory]
    [MemberData(nameof(Schemas))]
    public void Sampled_outputs_always_parse_and_validate(string name, string schemaJson)
    {
        using var schema = JsonDocument.Parse(schemaJson);
        var tokenizer = ConstraintTestSupport.JsonBpe;
        int eot = tokenizer.EndOfTextId;
        var factory = JsonSchemaConstraint.Create(tokenizer, schema.RootElement, [eot]);
        var grammar = ConstraintTestSupport.Automaton(schemaJson);
        for (ulong seed = 0; seed < 200; seed++)
        {
            var (bytes, ended, steps) = ConstraintTestSupport.Sample(tokenizer, factory(), seed, eot);
            Assert.True(ended, $"{name} seed {seed}: no end after {steps} tokens");
            string text = ConstraintTestSupport.Utf8(bytes);
            using var doc = JsonDocument.Parse(text, ConstraintTestSupport.DeepJson);
            Assert.True(SchemaValidator.Check(doc.RootElement, schema.RootElement) is null,
                $"{name} seed {seed}: {SchemaValidator.Check(doc.RootElement, schema.RootElement)} in {text}");
            Assert.True(grammar.Accepts(bytes), $"{name} seed {seed}: grammar refuses {text}");
        }
    }

    [Fact]
    public void Json_object_mode_outputs_are_objects()
    {
        var tokenizer = ConstraintTestSupport.JsonBpe;
        int eot = tokenizer.EndOfTextId;
        var factory = JsonSchemaConstraint.JsonObject(tokenizer, [eot]);
        int ended = 0;
        for (ulong seed = 0; seed < 200; seed++)
        {
            var processor = factory();
            var (bytes, done, _) = ConstraintTestSupport.Sample(tokenizer, processor, seed, eot, maxSteps: 300);
            if (!done)
            {
                // Random logits can nest without end (any value may open another); the prefix must still be viable.
                Assert.NotEqual(GrammarAutomaton.Dead, ((GrammarLogitsProcessor)processor).State);
                continue;
            }
            ended++;
            using var doc = JsonDocument.Parse(ConstraintTestSupport.Utf8(bytes), ConstraintTestSupport.DeepJson);
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        }
        Assert.True(ended >= 100, $"only {ended} of 200 outputs ended");
    }

    [Fact]
    public void The_trie_walk_mask_equals_checking_every_token_alone()
    {
        // The slow twin: each token's bytes appended to the output so far, run through a fresh automaton, with no trie
        // and no cache; stop tokens allowed exactly where the output so far is accepted.
        const string schemaJson = """{"type":"object","properties":{"s":{"type":"string"},"n":{"type":"number"},"b":{"anyOf":[{"type":"boolean"},{"type":"array","items":{"type":"integer"}}]}},"required":["s","b"]}""";
        using var schema = JsonDocument.Parse(schemaJson);
        var tokenizer = ConstraintTestSupport.JsonBpe;
        int eot = tokenizer.EndOfTextId, V = tokenizer.VocabSize + 2;
        var factory = JsonSchemaConstraint.Create(tokenizer, schema.RootElement, [eot]);
        var reference = ConstraintTestSupport.Automaton(schemaJson);
        var trie = TokenTrie.For(tokenizer);
        int checkedSteps = 0;
        for (ulong seed = 0; seed < 6; seed++)
        {
            var processor = factory();
            var sampler = new SamplerChain(new SamplingOptions { Temperature = 1, TopK = 0, TopP = 1, MinP = 0, Seed = seed });
            var output = new List<byte>();
            for (int step = 0; step < 300 && !processor.IsComplete; step++)
            {
                var logits = new float[V];
                processor.Process(logits);
                int prefixState = reference.Advance(reference.Initial, output.ToArray());
                for (int id = 0; id < V; id++)
                {
                    bool expected = id == eot ? reference.IsAccepting(prefixState)
                        : trie.TokenBytes(id) is { } b && reference.Advance(prefixState, b) != GrammarAutomaton.Dead;
                    Assert.True(expected == float.IsFinite(logits[id]), $"seed {seed} step {step} token {id}: expected allowed={expected}");
                }
                checkedSteps++;
                int token = sampler.Sample(logits, []);
                if (token == eot) break;
                processor.Accept(token);
                output.AddRange(trie.TokenBytes(token)!);
            }
        }
        Assert.True(checkedSteps > 50);
    }

    [Fact]
    public void The_trie_walk_mask_equals_checking_every_token_alone_on_gpt2()
    {
        // GPT-2's vocabulary at states where the walk takes its shortcuts (whole subtrees inside a string) and where it
        // cannot (after a backslash, inside a UTF-8 character, in a number, between members).
        var gpt2 = Gpt2Vocabulary.FromNodeModules(NodeModules.Find());
        const string schemaJson = """{"type":"object","properties":{"s":{"type":"string"},"n":{"type":"number"},"t":{"type":"array","items":{"enum":["x","y"]}}},"required":["s"]}""";
        using var schema = JsonDocument.Parse(schemaJson);
        var factory = JsonSchemaConstraint.Create(gpt2, schema.RootElement, [gpt2.EndOfTextId]);
        var reference = ConstraintTestSupport.Automaton(schemaJson);
        var trie = TokenTrie.For(gpt2);
        var byteToken = new int[256];
        for (int id = 0; id < gpt2.VocabSize; id++)
            if (trie.TokenBytes(id) is { Length: 1 } one) byteToken[one[0]] = id;
        byte[][] prefixes =
        [
            "{"u8.ToArray(), "{\"s\":\"ab"u8.ToArray(), "{\"s\":\"a\\"u8.ToArray(), "{\"s\":\"a\\u00"u8.ToArray(), [.. "{\"s\":\"caf"u8, 0xC3],
            [.. "{\"s\":\"x"u8, 0xE6, 0x97], "{\"s\":\"\", \"n\": -1"u8.ToArray(), "{\"s\":\"\",\"t\":[\"x\","u8.ToArray(), "{\"s\":\"\"}"u8.ToArray(),
        ];
        foreach (var prefix in prefixes)
        {
            var processor = factory();
            foreach (byte b in prefix) processor.Accept(byteToken[b]);
            var logits = new float[gpt2.VocabSize];
            processor.Process(logits);
            int state = reference.Advance(reference.Initial, prefix);
            Assert.NotEqual(GrammarAutomaton.Dead, state);
            int allowed = 0;
            for (int id = 0; id < gpt2.VocabSize; id++)
            {
                bool expected = id == gpt2.EndOfTextId ? reference.IsAccepting(state)
                    : trie.TokenBytes(id) is { } b && reference.Advance(state, b) != GrammarAutomaton.Dead;
                Assert.True(expected == float.IsFinite(logits[id]), $"after {System.Text.Encoding.UTF8.GetString(prefix)}: token {id} expected allowed={expected}");
                if (expected) allowed++;
            }
            Assert.True(allowed > 0);
        }
    }

    [Fact]
    public void Stop_tokens_only_where_the_value_may_end_and_complete_at_the_close()
    {
        var tokenizer = ToyTokenizer.Bytes;   // id b = byte b; no specials, so make 0 the stop token and keep it out of the text
        using var schema = JsonDocument.Parse("""{"type":"object","properties":{"n":{"type":"number"}},"required":["n"]}""");
        var processor = JsonSchemaConstraint.Create(tokenizer, schema.RootElement, [0])();
        foreach (char c in "{\"n\":12")
        {
            var logits = new float[256];
            processor.Process(logits);
            Assert.True(float.IsFinite(logits[c]), $"'{c}' refused");
            Assert.False(float.IsFinite(logits[0]));   // the object is open: no stop yet
            processor.Accept(c);
        }
        var atNumber = new float[256];
        processor.Process(atNumber);
        Assert.True(float.IsFinite(atNumber['3']) && float.IsFinite(atNumber['}']) && float.IsFinite(atNumber['.']));
        Assert.False(float.IsFinite(atNumber['"']));
        Assert.False(processor.IsComplete);
        processor.Accept('}');
        Assert.True(processor.IsComplete);
        var after = new float[256];
        processor.Process(after);
        Assert.Equal([0], Enumerable.Range(0, 256).Where(i => float.IsFinite(after[i])));
    }

    [Fact]
    public void A_token_may_end_inside_a_utf8_character()
    {
        // Byte tokens: "é" is two tokens, C3 then A9; after C3 only a continuation byte may follow.
        var tokenizer = ToyTokenizer.Bytes;
        using var schema = JsonDocument.Parse("""{"enum":["é","e"]}""");
        var processor = JsonSchemaConstraint.Create(tokenizer, schema.RootElement, [0])();
        processor.Accept('"');
        var logits = new float[256];
        processor.Process(logits);
        Assert.Equal([(int)'e', 0xC3], Enumerable.Range(0, 256).Where(i => float.IsFinite(logits[i])));
        processor.Accept(0xC3);
        logits = new float[256];
        processor.Process(logits);
        Assert.Equal([0xA9], Enumerable.Range(0, 256).Where(i => float.IsFinite(logits[i])));
    }

    [Fact]
    public void Specials_and_padded_rows_are_masked_and_a_refused_token_leaves_only_the_stop()
    {
        var tokenizer = ConstraintTestSupport.JsonBpe;
        int eot = tokenizer.EndOfTextId;
        var processor = JsonSchemaConstraint.JsonObject(tokenizer, [eot])();
        var logits = new float[tokenizer.VocabSize + 10];
        processor.Process(logits);
        Assert.False(float.IsFinite(logits[eot]));
        for (int i = tokenizer.VocabSize; i < logits.Length; i++) Assert.False(float.IsFinite(logits[i]));
        int bracket = tokenizer.Encode("[", allowSpecial: false).Single();
        processor.Accept(bracket);                       // forced past the mask (as no sampler would)
        logits = new float[tokenizer.VocabSize];
        processor.Process(logits);
        Assert.Equal([eot], Enumerable.Range(0, logits.Length).Where(i => float.IsFinite(logits[i])));
        Assert.False(processor.IsComplete);
    }

    [Fact]
    public void The_trie_holds_every_ordinary_token_once_with_its_bytes()
    {
        var gpt2 = Gpt2Vocabulary.FromNodeModules(NodeModules.Find());
        foreach (var tokenizer in new ITokenizer[] { ConstraintTestSupport.JsonBpe, gpt2 })
        {
            var trie = TokenTrie.For(tokenizer);
            Assert.Same(trie, TokenTrie.For(tokenizer));
            var specials = tokenizer.SpecialTokens.Select(s => s.Id).ToHashSet();
            Assert.Equal(tokenizer.VocabSize - specials.Count, trie.TokenCount);
            var seen = new HashSet<int>(trie._tokens);
            Assert.Equal(trie.TokenCount, seen.Count);
            for (int id = 0; id < tokenizer.VocabSize; id++)
            {
                if (specials.Contains(id)) { Assert.Null(trie.TokenBytes(id)); continue; }
                Assert.Equal(tokenizer.DecodeBytes([id]), trie.TokenBytes(id));
                Assert.Contains(id, seen);
            }
            // Walking the trie from the root spells each token: follow its bytes edge by edge.
            foreach (int id in new[] { 0, 1, tokenizer.VocabSize / 2, tokenizer.VocabSize - 2 }.Where(i => !specials.Contains(i)))
            {
                int node = 0;
                foreach (byte b in trie.TokenBytes(id)!)
                {
                    int e = trie._firstEdge[node];
                    while (trie._edgeByte[e] != b) e++;
                    node = trie._edgeChild[e];
                }
                Assert.Contains(id, trie._tokens[trie._firstToken[node]..trie._firstToken[node + 1]]);
            }
        }
    }

    [Fact]
    public void Gpt2_vocabulary_outputs_validate_too()
    {
        // GPT-2's 50k tokens rarely close a string under random logits, so this schema has numbers, enums, booleans and
        // arrays; and the draw is greedy over fresh random logits (a uniform pick among the allowed tokens), which
        // skips the sampler's sort of 50k candidates per step.
        var gpt2 = Gpt2Vocabulary.FromNodeModules(NodeModules.Find());
        const string schemaJson = """{"type":"object","properties":{"temp":{"type":"number"},"unit":{"enum":["celsius","fahrenheit"]},"ok":{"type":"boolean"},"ids":{"type":"array","items":{"type":"integer"},"maxItems":3}},"required":["temp","unit","ids"],"additionalProperties":false}""";
        using var schema = JsonDocument.Parse(schemaJson);
        var factory = JsonSchemaConstraint.Create(gpt2, schema.RootElement, [gpt2.EndOfTextId]);
        for (ulong seed = 0; seed < 20; seed++)
        {
            var (bytes, ended, _) = ConstraintTestSupport.Sample(gpt2, factory(), seed, gpt2.EndOfTextId, maxSteps: 2000, temperature: 0);
            Assert.True(ended, $"seed {seed}");
            using var doc = JsonDocument.Parse(ConstraintTestSupport.Utf8(bytes), ConstraintTestSupport.DeepJson);
            Assert.Null(SchemaValidator.Check(doc.RootElement, schema.RootElement));
        }
    }
}
