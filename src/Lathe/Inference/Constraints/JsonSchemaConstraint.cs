using System.Text.Json;
using Lathe.Tokenizers;

namespace Lathe.Inference.Constraints;

/// <summary>Constrained decoding for OpenAI's <c>response_format</c>: <c>json_schema</c> (<see cref="Create"/>) and
/// <c>json_object</c> (<see cref="JsonObject"/>). The schema is compiled once per request into a byte grammar; the
/// returned factory makes one <see cref="ILogitsProcessor"/> per choice, all sharing the compiled grammar, the
/// vocabulary's <see cref="TokenTrie"/> and the masks computed so far.</summary>
/// <remarks>The output is the JSON value alone: up to <see cref="JsonGrammar.MaxWhitespace"/> bytes of whitespace may
/// lead it (a SentencePiece model's first token often starts with a space), nothing may follow it, and the processor
/// reports <see cref="ILogitsProcessor.IsComplete"/> the moment the value closes (for an object or array; a bare number
/// may go on, so there the stop tokens are allowed and the model chooses). What the grammar admits is described on
/// <see cref="JsonSchemaCompiler"/>.</remarks>
public static class JsonSchemaConstraint
{
    /// <summary>A factory of processors whose outputs are JSON valid against <paramref name="schema"/>.</summary>
    /// <param name="tokenizer">The model's tokenizer (its trie is built on first use and cached).</param>
    /// <param name="schema">The JSON Schema.</param>
    /// <param name="stopTokens">The ids that end the sequence (EOS, end of turn): allowed only once the value is complete.</param>
    /// <param name="path">Names the schema in error messages, e.g. "response_format.json_schema.schema".</param>
    /// <exception cref="ArgumentException">A keyword the compiler does not support, or a malformed schema: one line
    /// naming the schema path.</exception>
    public static Func<ILogitsProcessor> Create(ITokenizer tokenizer, JsonElement schema, IReadOnlyCollection<int> stopTokens, string path = "schema")
    {
        var masker = new TokenMasker(Compile(schema, path), TokenTrie.For(tokenizer), stopTokens);
        return () => new GrammarLogitsProcessor(masker);
    }

    /// <summary>A factory of processors whose outputs are any JSON object (<c>json_object</c> mode).</summary>
    public static Func<ILogitsProcessor> JsonObject(ITokenizer tokenizer, IReadOnlyCollection<int> stopTokens)
    {
        var masker = new TokenMasker(CompileJsonObject(), TokenTrie.For(tokenizer), stopTokens);
        return () => new GrammarLogitsProcessor(masker);
    }

    /// <summary>The grammar of leading whitespace then a value valid against <paramref name="schema"/>.</summary>
    internal static Grammar Compile(JsonElement schema, string path)
    {
        var json = new JsonGrammar(new GrammarBuilder());
        int value = JsonSchemaCompiler.Compile(json, schema, path);
        return json.Builder.Build(json.Builder.Rule("root", [Symbol.Ref(json.Whitespace), Symbol.Ref(value)]));
    }

    /// <summary>The grammar of leading whitespace then any JSON object.</summary>
    internal static Grammar CompileJsonObject()
    {
        var json = new JsonGrammar(new GrammarBuilder());
        return json.Builder.Build(json.Builder.Rule("root", [Symbol.Ref(json.Whitespace), Symbol.Ref(json.AnyObject)]));
    }
}
