using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Formats;
using Lathe.Inference.Constraints;
using Lathe.Tokenizers;

namespace Lathe.Inference.ToolCalls;

/// <summary>Constrained decoding of tool calls in the <see cref="HermesTools"/> format, on the grammar machinery of
/// <see cref="JsonSchemaConstraint"/>. A call is <c>&lt;tool_call&gt;</c>, a JSON object {"name": one of the tools,
/// "arguments": valid against that tool's parameters schema} (name first), then <c>&lt;/tool_call&gt;</c>; whitespace
/// (bounded) may surround each part.</summary>
/// <remarks>
/// <para>required / a named function: the reply is only calls (one, or with <c>parallel_tool_calls</c> one or more,
/// whitespace between), then a stop token. With one call the processor is complete at <c>&lt;/tool_call&gt;</c>.</para>
/// <para>auto: free text, unconstrained; but a reply that starts (after whitespace) with <c>&lt;tool_call&gt;</c> is
/// held to the call grammar from there on (a lazy trigger). Text that merely starts like the tag ("&lt;tool" then
/// something else) stays free.</para>
/// <para>Added tokens whose text is <c>&lt;tool_call&gt;</c> or <c>&lt;/tool_call&gt;</c> (Qwen 2.5's vocabulary has
/// them) are allowed where the grammar spells that text, as are the ordinary tokens that spell it.</para>
/// </remarks>
public static class ToolCallConstraint
{
    /// <summary>A factory of processors for <paramref name="choice"/> over <paramref name="tools"/>, or null for
    /// <see cref="ToolChoiceMode.None"/> (nothing to constrain).</summary>
    /// <exception cref="ArgumentException">A tool's parameters schema uses what the schema compiler does not support
    /// (one line naming "tools[i].function.parameters…").</exception>
    public static Func<ILogitsProcessor>? Create(ITokenizer tokenizer, IReadOnlyList<ChatTool> tools, ToolChoice choice,
        bool parallelToolCalls, IReadOnlyCollection<int> stopTokens)
    {
        var grammar = Compile(tools, choice, parallelToolCalls);
        if (grammar is null) return null;
        var literals = new List<(int, byte[])>();
        foreach (var (text, id) in tokenizer.SpecialTokens)
        {
            if (text is not (HermesTools.CallOpen or HermesTools.CallClose)) continue;
            byte[] bytes = tokenizer.DecodeBytes([id]);
            // Only a token that prints its text (the streamer shows DecodeBytes) may stand for the tag.
            if (bytes.AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(text))) literals.Add((id, bytes));
        }
        var masker = new TokenMasker(grammar, TokenTrie.For(tokenizer), stopTokens, literals);
        return () => new GrammarLogitsProcessor(masker);
    }

    /// <summary>The grammar of the reply, or null for none.</summary>
    internal static Grammar? Compile(IReadOnlyList<ChatTool> tools, ToolChoice choice, bool parallelToolCalls)
    {
        if (choice.Mode == ToolChoiceMode.None) return null;
        if (tools.Count == 0) throw new ArgumentException("tool_choice: tools are needed for tool calls.");
        var g = new GrammarBuilder();
        var json = new JsonGrammar(g);
        int ws = json.Whitespace;
        Symbol R(int rule) => Symbol.Ref(rule);

        var named = new List<Symbol[]>();
        for (int i = 0; i < tools.Count; i++)
        {
            var tool = tools[i];
            if (choice.Mode == ToolChoiceMode.Function && tool.Name != choice.FunctionName) continue;
            int arguments = tool.ParametersJson is null
                ? g.Rule($"no-arguments {tool.Name}", [.. JsonGrammar.Lit("{"), R(ws), .. JsonGrammar.Lit("}")])
                : Arguments(json, tool.ParametersJson, $"tools[{i}].function.parameters");
            named.Add([.. Symbol.Bytes(JsonLiteral.String(tool.Name)), R(ws), .. JsonGrammar.Lit(","), R(ws),
                .. JsonGrammar.Lit("\"arguments\""), R(ws), .. JsonGrammar.Lit(":"), R(ws), R(arguments), R(ws)]);
        }
        if (named.Count == 0) throw new ArgumentException($"tool_choice.function.name: '{choice.FunctionName}' is not one of the tools.");
        int nameAndArguments = g.Rule("name-and-arguments", [.. named]);
        int call = g.Rule("call", [.. JsonGrammar.Lit(HermesTools.CallOpen), R(ws), .. JsonGrammar.Lit("{"), R(ws), .. JsonGrammar.Lit("\"name\""), R(ws),
            .. JsonGrammar.Lit(":"), R(ws), R(nameAndArguments), .. JsonGrammar.Lit("}"), R(ws), .. JsonGrammar.Lit(HermesTools.CallClose)]);
        int calls = parallelToolCalls ? g.Rule("calls", [R(call), R(g.Star("more-calls", [R(ws), R(call)]))]) : call;
        if (choice.Mode != ToolChoiceMode.Auto) return g.Build(g.Rule("root", [R(ws), R(calls)]));
        return g.Build(AutoRoot(g, calls));
    }

    // The arguments are an object: a parameters schema that names no type (nor a $ref, anyOf, enum or const) is read as
    // an object schema, so that "{}" or {"properties": …} cannot let the model write a string or a number there.
    static int Arguments(JsonGrammar json, string parametersJson, string path)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(parametersJson); }
        catch (JsonException e) { throw new ArgumentException($"{path}: not JSON ({e.Message})"); }
        if (node is JsonObject schema && !schema.ContainsKey("type") && !schema.ContainsKey("$ref") && !schema.ContainsKey("anyOf")
            && !schema.ContainsKey("enum") && !schema.ContainsKey("const"))
            schema["type"] = "object";
        using var doc = JsonDocument.Parse(node?.ToJsonString() ?? "null");
        return JsonSchemaCompiler.Compile(json, doc.RootElement, path);
    }

    // auto: lead_k = [space] lead_{k-1} | calls | free | ε, lead_0 = calls | free | [space] any | ε, where free is any
    // text that does not begin with the tag: a proper prefix of it, or a prefix and then a different byte, then anything.
    static int AutoRoot(GrammarBuilder g, int calls)
    {
        var space = ByteSet.Chars(" \t\n\r");
        byte[] tag = Encoding.UTF8.GetBytes(HermesTools.CallOpen);
        int any = g.Star("any", [Symbol.Set(ByteSet.All)]);
        var free = new List<Symbol[]> { new[] { Symbol.Set(ByteSet.All - ByteSet.Of(tag[0]) - space), Symbol.Ref(any) } };
        for (int k = 1; k < tag.Length; k++)
        {
            var prefix = Symbol.Bytes(tag.AsSpan(0, k));
            free.Add(prefix);
            free.Add([.. prefix, Symbol.Set(ByteSet.All - ByteSet.Of(tag[k])), Symbol.Ref(any)]);
        }
        int notTag = g.Rule("free-text", [.. free]);
        int lead = g.Rule("lead{0}", [Symbol.Ref(calls)], [Symbol.Ref(notTag)], [Symbol.Set(space), Symbol.Ref(any)], []);
        for (int k = 1; k <= JsonGrammar.MaxWhitespace; k++)
            lead = g.Rule($"lead{{{k}}}", [Symbol.Set(space), Symbol.Ref(lead)], [Symbol.Ref(calls)], [Symbol.Ref(notTag)], []);
        return lead;
    }
}
