using System.Text;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Inference.Constraints;
using Lathe.Inference.ToolCalls;
using Lathe.Tests.Inference.Constraints;
using Lathe.Tokenizers;

namespace Lathe.Tests.Inference.ToolCalls;

/// <summary>The tool-call grammar (required, named, auto; one or parallel calls) on hand-written replies, and the
/// processor under random logits: every reply parses into calls of known tools whose arguments validate.</summary>
public class ToolCallConstraintTests
{
    static readonly ChatTool[] Tools =
    [
        new("get_weather", "Weather in a city", """{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["C","F"]}},"required":["city"],"additionalProperties":false}"""),
        new("add", null, """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"],"additionalProperties":false}"""),
        new("now"),
    ];

    const string Paris = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
    const string Add = "<tool_call>{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":-2}}</tool_call>";

    static GrammarAutomaton Automaton(ToolChoice choice, bool parallel) => new(ToolCallConstraint.Compile(Tools, choice, parallel)!);

    [Theory]
    [InlineData(Paris, true)]
    [InlineData(Add, true)]
    [InlineData(" \n" + Paris, true)]
    [InlineData("<tool_call>{\"name\": \"now\", \"arguments\": {}}</tool_call>", true)]
    [InlineData("<tool_call>{\"name\": \"now\", \"arguments\": {\"x\": 1}}</tool_call>", false)]   // takes no arguments
    [InlineData("<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>", false)]       // no such tool
    [InlineData("<tool_call>{\"name\": \"add\", \"arguments\": {\"a\": 1}}</tool_call>", false)]    // b required
    [InlineData("<tool_call>{\"arguments\": {\"a\": 1, \"b\": 2}, \"name\": \"add\"}</tool_call>", false)]   // name first
    [InlineData("Sure! " + Paris, false)]
    [InlineData(Paris + "\n" + Add, false)]                                                          // one call only
    [InlineData("", false)]
    public void Required_one_call(string reply, bool valid) => Assert.Equal(valid, Automaton(ToolChoice.Required, parallel: false).Accepts(reply));

    [Fact]
    public void Required_parallel_calls_and_when_the_reply_is_complete()
    {
        var parallel = Automaton(ToolChoice.Required, parallel: true);
        Assert.True(parallel.Accepts(Paris + "\n" + Add));
        Assert.True(parallel.Accepts(Paris + Add));
        int afterOne = parallel.Advance(parallel.Initial, Encoding.UTF8.GetBytes(Paris));
        Assert.True(parallel.IsAccepting(afterOne));
        Assert.False(parallel.IsComplete(afterOne));   // another call may follow
        var single = Automaton(ToolChoice.Required, parallel: false);
        Assert.True(single.IsComplete(single.Advance(single.Initial, Encoding.UTF8.GetBytes(Paris))));
    }

    [Fact]
    public void A_named_function_only()
    {
        var named = Automaton(new ToolChoice(ToolChoiceMode.Function, "add"), parallel: false);
        Assert.True(named.Accepts(Add));
        Assert.False(named.Accepts(Paris));
    }

    [Theory]
    [InlineData("Hello there.", true)]
    [InlineData("", true)]
    [InlineData("<b>bold</b> text", true)]
    [InlineData("<tool", true)]                 // a prefix of the tag, then the end
    [InlineData("<tool_cal", true)]
    [InlineData("<toolbox>", true)]
    [InlineData("  \n" + Paris, true)]
    [InlineData(Paris + "\n" + Add, true)]
    [InlineData("Text then " + Paris, true)]   // the trigger is only at the start: later tags are text
    [InlineData("<tool_call>{\"name\": \"nope\"", false)]
    [InlineData("<tool_call>hello</tool_call>", false)]
    [InlineData(Paris + " and some text", false)]
    public void Auto_is_free_text_unless_the_reply_starts_with_a_call(string reply, bool valid) =>
        Assert.Equal(valid, Automaton(ToolChoice.Auto, parallel: true).Accepts(reply));

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"properties":{"q":{"type":"string"}}}""")]
    public void Arguments_are_an_object_even_when_the_schema_names_no_type(string parameters)
    {
        var automaton = new GrammarAutomaton(ToolCallConstraint.Compile([new("f", null, parameters)], ToolChoice.Required, false)!);
        Assert.True(automaton.Accepts("<tool_call>{\"name\": \"f\", \"arguments\": {\"q\": \"x\"}}</tool_call>"));
        Assert.False(automaton.Accepts("<tool_call>{\"name\": \"f\", \"arguments\": \"x\"}</tool_call>"));
    }

    [Fact]
    public void None_constrains_nothing() =>
        Assert.Null(ToolCallConstraint.Create(ConstraintTestSupport.JsonBpe, Tools, ToolChoice.None, true, [0]));

    [Fact]
    public void A_parameters_schema_the_compiler_refuses_is_a_one_line_error()
    {
        ChatTool[] tools = [new("f", null, """{"type":"object","properties":{"q":{"type":"string","pattern":"^a"}}}""")];
        var e = Assert.Throws<ArgumentException>(() => ToolCallConstraint.Create(ConstraintTestSupport.JsonBpe, tools, ToolChoice.Required, true, [0]));
        Assert.Equal("tools[0].function.parameters.properties.q: keyword 'pattern' is not supported.", e.Message);
    }

    [Theory]
    [InlineData(false, 200)]
    [InlineData(true, 40)]   // random logits chain many calls before they pick the stop token, so fewer seeds
    public void Required_calls_sampled_from_random_logits_parse_and_validate(bool parallel, int seeds)
    {
        var tokenizer = ConstraintTestSupport.JsonBpe;
        int eot = tokenizer.EndOfTextId;
        var factory = ToolCallConstraint.Create(tokenizer, Tools, ToolChoice.Required, parallel, [eot])!;
        int several = 0;
        for (ulong seed = 0; seed < (ulong)seeds; seed++)
        {
            var (bytes, ended, steps) = ConstraintTestSupport.Sample(tokenizer, factory(), seed, eot);
            Assert.True(ended, $"seed {seed}: no end after {steps} tokens");
            string text = ConstraintTestSupport.Utf8(bytes);
            var reply = ToolCallParser.Parse(text, seed);
            Assert.True(reply.Content is null, $"seed {seed}: text outside calls in {text}");
            if (!parallel) Assert.Single(reply.ToolCalls);
            else Assert.NotEmpty(reply.ToolCalls);
            if (reply.ToolCalls.Count > 1) several++;
            foreach (var call in reply.ToolCalls) AssertValidCall(call, text);
        }
        if (parallel) Assert.True(several > 0);
    }

    [Fact]
    public void Auto_replies_that_start_a_call_finish_it_validly()
    {
        var tokenizer = ConstraintTestSupport.JsonBpe;
        int eot = tokenizer.EndOfTextId;
        var factory = ToolCallConstraint.Create(tokenizer, Tools, ToolChoice.Auto, parallelToolCalls: false, [eot])!;
        // Random logits seldom spell the tag, so every other reply is made to begin with it (the tokens of " <tool_call>",
        // each checked to be allowed) and sampled on from there; the others are sampled from the start.
        int[] tag = [.. tokenizer.Encode(" " + HermesTools.CallOpen, allowSpecial: false)];
        int calls = 0, free = 0;
        for (ulong seed = 0; seed < 200; seed++)
        {
            var processor = factory();
            var (bytes, ended, _) = ConstraintTestSupport.Sample(tokenizer, processor, seed, eot, maxSteps: 150, forced: seed % 2 == 0 ? tag : null);
            string text = Encoding.UTF8.GetString(bytes);
            if (!text.TrimStart().StartsWith(HermesTools.CallOpen, StringComparison.Ordinal)) { free++; continue; }
            Assert.NotEqual(GrammarAutomaton.Dead, ((GrammarLogitsProcessor)processor).State);
            if (!ended) continue;   // cut inside a long string argument: the prefix above is still viable
            calls++;
            var reply = ToolCallParser.Parse(text, seed);
            Assert.Null(reply.Content);
            AssertValidCall(Assert.Single(reply.ToolCalls), text);
        }
        Assert.True(calls >= 50 && free >= 50, $"calls {calls}, free {free}");
    }

    [Fact]
    public void Added_tag_tokens_are_allowed_where_the_grammar_spells_them()
    {
        // A vocabulary with <tool_call> and </tool_call> as added tokens (as Qwen 2.5's has), and another special that
        // is never allowed.
        var tokenizer = new BpeTrainer(300, ["<|endoftext|>", "<tool_call>", "</tool_call>", "<|im_start|>"], minFrequency: 1)
            .Train(["{\"name\": \"now\", \"arguments\": {}} the whale and the ship"]);
        int open = tokenizer.SpecialTokens.Single(s => s.Text == "<tool_call>").Id, close = tokenizer.SpecialTokens.Single(s => s.Text == "</tool_call>").Id;
        int imStart = tokenizer.SpecialTokens.Single(s => s.Text == "<|im_start|>").Id, eot = tokenizer.EndOfTextId;
        var processor = ToolCallConstraint.Create(tokenizer, Tools, ToolChoice.Required, parallelToolCalls: false, [eot])!();
        var logits = new float[tokenizer.VocabSize];
        processor.Process(logits);
        Assert.True(float.IsFinite(logits[open]));
        Assert.False(float.IsFinite(logits[close]) || float.IsFinite(logits[imStart]) || float.IsFinite(logits[eot]));
        processor.Accept(open);
        foreach (int t in tokenizer.Encode("{\"name\": \"now\", \"arguments\": {}}", allowSpecial: false)) processor.Accept(t);
        logits = new float[tokenizer.VocabSize];
        processor.Process(logits);
        Assert.True(float.IsFinite(logits[close]));
        Assert.False(float.IsFinite(logits[open]));
        processor.Accept(close);
        Assert.True(processor.IsComplete);
    }

    static void AssertValidCall(ToolCall call, string text)
    {
        var tool = Tools.SingleOrDefault(t => t.Name == call.Name);
        Assert.True(tool is not null, $"unknown tool '{call.Name}' in {text}");
        using var arguments = JsonDocument.Parse(call.ArgumentsJson, ConstraintTestSupport.DeepJson);
        using var schema = JsonDocument.Parse(tool.ParametersJson ?? """{"type":"object","additionalProperties":false}""");
        Assert.True(SchemaValidator.Check(arguments.RootElement, schema.RootElement) is null,
            $"{SchemaValidator.Check(arguments.RootElement, schema.RootElement)} in {text}");
    }
}
