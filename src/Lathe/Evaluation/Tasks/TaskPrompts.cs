using System.Text.Json;
using Lathe.Formats;
using Lathe.Inference;

namespace Lathe.Evaluation.Tasks;

/// <summary>Turns a task's documents into text and tokens: the prompt (with few-shot examples), the choices and the
/// gold answer, the target, and the token pairs of log-likelihood requests encoded as lm-evaluation-harness encodes
/// them. Every error names the task file, the documents' file and line, and the field.</summary>
public sealed class TaskPrompts(TaskSpec task, LoadedModel model, ChatTemplate? template = null)
{
    // A chat task's template: the one given, else the model's own (ChatML when it has none Lathe knows).
    readonly ChatTemplate? _chat = task.ChatTemplate ? template ?? ChatTemplate.Detect(model.ChatTemplate) : null;

    /// <summary>Where a generation stops: the task's strings, and for a chat task the template's end of turn.</summary>
    public IReadOnlyList<string> Until => _chat is null ? task.Until : [.. task.Until, .. _chat.EndOfTurn.Append(_chat.TurnEnd).Distinct()];

    /// <summary>What comes between a prompt and its answer: the task's target delimiter, or nothing for a chat task
    /// (the template has opened the assistant's turn).</summary>
    public string Delimiter => _chat is null ? task.TargetDelimiter : "";

    /// <summary>The prompt for document <paramref name="index"/>: <see cref="TaskRunOptions.Shots"/> examples drawn from
    /// <paramref name="pool"/> (never the document itself when the pool is the task's own documents), each its prompt,
    /// the target delimiter and its answer, joined by the few-shot delimiter; then the document's own prompt. The draw
    /// depends only on the seed and the document's index, so --limit does not change a document's examples.</summary>
    public string Context(TaskDocument doc, int index, IReadOnlyList<TaskDocument> pool, bool poolIsDocuments, TaskRunOptions options)
    {
        string prompt = Guard(doc, "doc_to_text", () => task.DocToText.Render(doc.Fields));
        if (options.Shots <= 0) return _chat is null ? prompt : _chat.Render([new ChatMessage("user", prompt)]);
        var candidates = Enumerable.Range(0, pool.Count).Where(i => !poolIsDocuments || i != index).ToList();
        if (candidates.Count < options.Shots)
            throw new InvalidDataException($"{task.Path}: {options.Shots} few-shot examples asked for, but the pool has {candidates.Count}");
        var rng = new Random(unchecked(options.Seed * 1_000_003 + index));
        var parts = new List<string>();
        var turns = new List<ChatMessage>();
        for (int k = 0; k < options.Shots; k++)
        {
            int pick = rng.Next(candidates.Count);
            var example = pool[candidates[pick]];
            candidates.RemoveAt(pick);
            string answer = task.OutputType == TaskOutputType.MultipleChoice ? Choices(example) is var (c, g) ? c[g] : "" : Target(example);
            string question = Guard(example, "doc_to_text", () => task.DocToText.Render(example.Fields));
            if (_chat is null) parts.Add(question + task.TargetDelimiter + answer);
            else { turns.Add(new ChatMessage("user", question)); turns.Add(new ChatMessage("assistant", answer)); }
        }
        if (_chat is not null) return _chat.Render([.. turns, new ChatMessage("user", prompt)]);   // fewshot_as_multiturn
        parts.Add(prompt);
        return string.Join(task.FewShotDelimiter, parts);
    }

    /// <summary>A multiple-choice document's choices and the index of the gold one.</summary>
    public (IReadOnlyList<string> Choices, int Gold) Choices(TaskDocument doc)
    {
        var templates = task.DocToChoice!;
        List<string> choices;
        if (templates.Count == 1 && templates[0].IsSingleField)
        {
            var value = Guard(doc, "doc_to_choice", () => templates[0].Value(doc.Fields));
            if (value.ValueKind != JsonValueKind.Array)
                throw Bad(doc, "doc_to_choice", $"field '{templates[0].Fields[0]}' must be an array of choices");
            choices = value.EnumerateArray().Select(e => Guard(doc, "doc_to_choice", () => TaskTemplate.Text(e, templates[0].Fields[0]))).ToList();
        }
        else choices = templates.Select(t => Guard(doc, "doc_to_choice", () => t.Render(doc.Fields))).ToList();
        if (choices.Count < 2) throw Bad(doc, "doc_to_choice", $"{choices.Count} choice(s); a multiple-choice document needs two or more");
        var target = task.DocToTarget!;
        int gold;
        if (target.IsSingleField && Guard(doc, "doc_to_target", () => target.Value(doc.Fields)) is { ValueKind: JsonValueKind.Number } number)
        {
            if (!number.TryGetInt32(out gold)) throw Bad(doc, "doc_to_target", "the gold answer must be an integer index");
        }
        else
        {
            string text = Guard(doc, "doc_to_target", () => target.Render(doc.Fields));
            gold = choices.IndexOf(text);
            if (gold < 0 && int.TryParse(text, out int parsed)) gold = parsed;
            if (gold < 0 && choices.IndexOf(text) < 0) throw Bad(doc, "doc_to_target", $"{TaskTemplate.Quote(text)} is not one of the choices");
        }
        if (gold < 0 || gold >= choices.Count) throw Bad(doc, "doc_to_target", $"gold index {gold} is outside the {choices.Count} choices");
        return (choices, gold);
    }

    /// <summary>The target text (loglikelihood, generate_until) or the whole text (loglikelihood_rolling).</summary>
    public string Target(TaskDocument doc) => Guard(doc, "doc_to_target", () => task.DocToTarget!.Render(doc.Fields));

    /// <summary>A log-likelihood request for (context, continuation), encoded as lm-evaluation-harness encodes a pair:
    /// whitespace ending the context moves to the continuation, the whole string is encoded, and the continuation is
    /// what follows the context's own encoding — so tokens that merge across the boundary are scored as the model would
    /// see them. An empty context becomes the model's BOS (or end-of-text) token.</summary>
    public LogLikelihoodRequest Pair(string context, string continuation, TaskDocument doc)
    {
        // (A chat prompt's whitespace is the template's own, always there before a reply: it stays in the context.)
        int trimmed = _chat is null ? context.Length - context.TrimEnd().Length : 0;
        if (trimmed > 0) { continuation = context[^trimmed..] + continuation; context = context[..^trimmed]; }
        int[] whole = Encode(context + continuation), head = Encode(context);
        if (head.Length == 0) head = [Prefix(doc)];
        else if (head.Length > whole.Length || !whole.AsSpan(0, head.Length).SequenceEqual(head))
        {
            // The context's tokens are not a prefix of the whole's: encode the continuation alone after them.
            whole = [.. head, .. EncodeBare(continuation)];
        }
        int[] tail = whole.Length > head.Length && whole.AsSpan(0, head.Length).SequenceEqual(head) ? whole[head.Length..] : whole;
        if (tail.Length == 0) throw Bad(doc, "doc_to_target", $"the continuation {TaskTemplate.Quote(continuation)} encodes to no tokens");
        return new LogLikelihoodRequest(head, tail);
    }

    /// <summary>Token ids of a whole text for a rolling score, starting with a context-only token (the model's BOS, or
    /// its end-of-text token), as lm-evaluation-harness prefixes rolling windows.</summary>
    public int[] Rolling(string text, TaskDocument doc)
    {
        int[] ids = EncodeBare(text);
        if (ids.Length == 0) throw Bad(doc, "doc_to_target", "the text is empty");
        return [Prefix(doc), .. ids];
    }

    /// <summary>A prompt's tokens as inference encodes it (BOS first when the model's source asks), special-token text
    /// not parsed (a document's text is data).</summary>
    /// A chat task's prompt is the template's rendering, whose markers are special tokens: those are parsed.
    public int[] Encode(string text) => model.Encode(text, parseSpecial: _chat is not null);

    int[] EncodeBare(string text)
    {
        var ids = new List<int>();
        model.Tokenizer.Encode(text, ids);
        return ids.ToArray();
    }

    int Prefix(TaskDocument doc) => model.BosId ?? model.EosId
        ?? throw Bad(doc, "doc_to_text", "the prompt is empty and the model has neither a BOS nor an end-of-text token to start from");

    T Guard<T>(TaskDocument doc, string field, Func<T> f)
    {
        try { return f(); }
        catch (Exception e) when (e is KeyNotFoundException or FormatException) { throw Bad(doc, field, e.Message); }
    }

    InvalidDataException Bad(TaskDocument doc, string field, string message) =>
        new($"{task.Path}: {doc.File}: line {doc.Line}: {field}: {message}");
}
