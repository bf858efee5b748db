using System.Text;
using Lathe.Formats.Jinja;

namespace Lathe.Formats;

/// <summary>A message of a conversation. Role is system, user, assistant or tool; an assistant message may carry
/// <see cref="ToolCalls"/>, a tool message answers the call <see cref="ToolCallId"/>.</summary>
public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>The calls an assistant message made (written after its text, see <see cref="HermesTools"/>).</summary>
    public IReadOnlyList<ChatToolCall>? ToolCalls { get; init; }

    /// <summary>The call a tool message is the result of (OpenAI's tool_call_id; not written into the prompt).</summary>
    public string? ToolCallId { get; init; }
}

/// <summary>A run of rendered conversation text and whether a fine-tuning loss covers it (an assistant's reply and
/// its end-of-turn marker) or not (system and user messages, role headers, BOS).</summary>
public readonly record struct ChatPiece(string Text, bool Trainable);

/// <summary>How a conversation is laid out as text for a chat model. GGUF files carry their template as a Jinja
/// program (<c>tokenizer.chat_template</c>): <see cref="FromJinja"/> runs that program with Lathe's Jinja interpreter
/// (the file's template is the truth). Lathe also knows the common families natively, recognised by their marker
/// strings (<see cref="Detect"/>): they render Lathe's own checkpoints, give fine-tuning its trainable pieces and
/// give every template its end-of-turn strings. A model without a template (Lathe's own pre-trained models) gets
/// ChatML, the documented default.</summary>
/// <remarks>Inference (<see cref="Render"/>) and fine-tuning (<see cref="RenderForTraining"/>) share one writer, so
/// the prompt a model is trained to answer is byte for byte the prompt it is asked at inference.</remarks>
public sealed class ChatTemplate
{
    /// <summary>chatml, llama3, llama2, mistral, zephyr, phi3, gemma or plain.</summary>
    public string Name { get; }
    /// <summary>Strings that end an assistant turn (generation stops on them as stop strings or special tokens).</summary>
    public IReadOnlyList<string> EndOfTurn { get; }
    /// <summary>The text that closes an assistant message in the rendering, which fine-tuning teaches the model to
    /// produce after its reply ("&lt;|im_end|&gt;", "&lt;/s&gt;", …; "\n" for plain, whose stop string "\nUser:"
    /// begins with it).</summary>
    public string TurnEnd { get; }

    // The model's own Jinja program and the token texts it is rendered with; null for a native family.
    readonly JinjaTemplate? _program;
    readonly string? _bosToken, _eosToken;

    ChatTemplate(string name, string turnEnd, params string[] endOfTurn) { Name = name; TurnEnd = turnEnd; EndOfTurn = endOfTurn; }

    ChatTemplate(ChatTemplate family, JinjaTemplate program, string? bosToken, string? eosToken)
        : this(family.Name, family.TurnEnd, [.. family.EndOfTurn])
    {
        _program = program;
        _bosToken = bosToken;
        _eosToken = eosToken;
    }

    /// <summary>True when <see cref="Render"/> runs the model's Jinja program (<see cref="FromJinja"/>).</summary>
    public bool IsJinja => _program is not null;

    /// <summary>The model's own template, rendered by the Jinja interpreter as Hugging Face's apply_chat_template
    /// renders it with <paramref name="bosToken"/> and <paramref name="eosToken"/> as bos_token and eos_token. The
    /// family recognised by its markers still supplies <see cref="EndOfTurn"/>, <see cref="TurnEnd"/> and
    /// fine-tuning's pieces; a template of no known family ends turns at <paramref name="eosToken"/> and has no
    /// training rendering. A template the interpreter cannot run fails here, naming the construct and its line.</summary>
    /// <exception cref="JinjaException">The template does not parse or uses an unsupported tag, filter or test.</exception>
    public static ChatTemplate FromJinja(string jinja, string? bosToken, string? eosToken)
    {
        var program = JinjaTemplate.Parse(jinja);
        var family = TryDetect(jinja) ?? new ChatTemplate("jinja", eosToken ?? "", eosToken is null ? [] : [eosToken]);
        return new ChatTemplate(family, program, bosToken, eosToken);
    }

    public static readonly string[] Names = ["chatml", "llama3", "llama2", "mistral", "zephyr", "phi3", "gemma", "plain"];

    /// <summary>A template by name; one-line error naming the choices otherwise.</summary>
    public static ChatTemplate Named(string name) => name switch
    {
        "chatml" => new("chatml", "<|im_end|>", "<|im_end|>"),
        "llama3" => new("llama3", "<|eot_id|>", "<|eot_id|>"),
        "llama2" => new("llama2", "</s>", "</s>"),
        "mistral" => new("mistral", "</s>", "</s>"),
        "zephyr" => new("zephyr", "</s>", "</s>"),
        "phi3" => new("phi3", "<|end|>", "<|end|>"),
        "gemma" => new("gemma", "<end_of_turn>", "<end_of_turn>"),
        "plain" => new("plain", "\n", "\nUser:"),
        _ => throw new ArgumentException($"chat template '{name}' is not one of {string.Join(", ", Names)}."),
    };

    /// <summary>The family of a Jinja template by its markers (null or empty → ChatML). A template none of the known
    /// families matches is an error naming what was seen, rather than a silently wrong prompt.</summary>
    public static ChatTemplate Detect(string? jinja)
    {
        if (string.IsNullOrWhiteSpace(jinja)) return Named("chatml");
        return TryDetect(jinja)
            ?? throw new InvalidDataException($"tokenizer.chat_template: unrecognised template family (known: {string.Join(", ", Names)}); pass --template NAME.");
    }

    static ChatTemplate? TryDetect(string jinja)
    {
        if (jinja.Contains("<|im_start|>")) return Named("chatml");
        if (jinja.Contains("<|start_header_id|>")) return Named("llama3");
        if (jinja.Contains("<start_of_turn>")) return Named("gemma");
        if (jinja.Contains("<|end|>") && jinja.Contains("<|assistant|>")) return Named("phi3");
        if (jinja.Contains("<|user|>")) return Named("zephyr");
        if (jinja.Contains("<<SYS>>")) return Named("llama2");
        if (jinja.Contains("[INST]")) return Named("mistral");
        return null;
    }

    /// <summary>The prompt text for <paramref name="messages"/>, ending with the opening of the assistant's turn.
    /// <paramref name="bos"/> is prepended where the family writes it as text (null: the tokenizer adds it).
    /// <paramref name="tools"/>, tool calls and tool results are written as <see cref="HermesTools"/> says. A Jinja
    /// template (<see cref="FromJinja"/>) writes all of it itself, BOS included, and ignores <paramref name="bos"/>.</summary>
    /// <exception cref="JinjaException">The template raised an error (raise_exception, or a bad operation).</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, string? bos = null, IReadOnlyList<ChatTool>? tools = null)
    {
        if (_program is not null)
            return _program.Render(ChatTemplateContext.Build(messages, tools, addGenerationPrompt: true, _bosToken, _eosToken));
        var s = new StringBuilder();
        foreach (var piece in Write(HermesTools.Flatten(messages, tools), bos, generationPrompt: true)) s.Append(piece.Text);
        return s.ToString();
    }

    /// <summary>The conversation as fine-tuning sees it: the same text as <see cref="Render"/> writes for it, in runs
    /// where every assistant message's reply plus its <see cref="TurnEnd"/> is trainable and everything else is not.
    /// No generation prompt is added and text after the last assistant turn's end is left out (no target follows
    /// it). Adjacent runs alternate: no two neighbours share <see cref="ChatPiece.Trainable"/>.</summary>
    /// <remarks>For a conversation [.. prompt, assistant] the non-trainable text before the last reply is exactly
    /// <c>Render([.. prompt])</c>, so training and inference agree on the prompt.</remarks>
    public IReadOnlyList<ChatPiece> RenderForTraining(IReadOnlyList<ChatMessage> messages, string? bos = null, IReadOnlyList<ChatTool>? tools = null)
    {
        if (Name == "jinja")
            throw new InvalidDataException("tokenizer.chat_template: no known template family to train with; pass --template NAME.");
        var pieces = Write(HermesTools.Flatten(messages, tools), bos, generationPrompt: false);
        int lastTrainable = pieces.FindLastIndex(p => p.Trainable);
        if (lastTrainable >= 0) pieces.RemoveRange(lastTrainable + 1, pieces.Count - lastTrainable - 1);
        return pieces;
    }

    // The one writer of every family: pieces in order, neighbours of equal trainability merged.
    List<ChatPiece> Write(IReadOnlyList<ChatMessage> messages, string? bos, bool generationPrompt)
    {
        var w = new PieceWriter();
        switch (Name)
        {
            case "chatml":
                foreach (var m in messages)
                {
                    w.Add("<|im_start|>" + m.Role + "\n");
                    w.Turn(m, m.Content, "<|im_end|>");
                    w.Add("\n");
                }
                if (generationPrompt) w.Add("<|im_start|>assistant\n");
                break;
            case "llama3":
                w.Add(bos ?? "");
                foreach (var m in messages)
                {
                    w.Add("<|start_header_id|>" + m.Role + "<|end_header_id|>\n\n");
                    w.Turn(m, m.Content.Trim(), "<|eot_id|>");
                }
                if (generationPrompt) w.Add("<|start_header_id|>assistant<|end_header_id|>\n\n");
                break;
            case "llama2":
            case "mistral":
            {
                // [INST] user [/INST] assistant</s> …; llama2 folds the system prompt into the first user turn. The
                // space before a reply belongs to the reply: the prompt ends at "[/INST]" and SentencePiece models
                // fuse the space with the reply's first word ("▁Hello").
                string? system = null;
                bool first = true;
                foreach (var m in messages)
                {
                    if (m.Role == "system") { system = m.Content; continue; }
                    if (m.Role == "user")
                    {
                        w.Add((bos ?? "") + "[INST] ");
                        if (system is not null && first) w.Add(Name == "llama2" ? $"<<SYS>>\n{system}\n<</SYS>>\n\n" : system + "\n\n");
                        w.Add(m.Content.Trim() + " [/INST]");
                        first = false;
                    }
                    else w.Turn(m, " " + m.Content.Trim(), "</s>");
                }
                break;
            }
            case "zephyr":
            case "phi3":
            {
                string end = Name == "zephyr" ? "</s>" : "<|end|>";
                foreach (var m in messages)
                {
                    w.Add("<|" + m.Role + "|>\n");
                    w.Turn(m, m.Content, end);
                    w.Add("\n");
                }
                if (generationPrompt) w.Add("<|assistant|>\n");
                break;
            }
            case "gemma":
            {
                // No system role: it is prepended to the first user turn; the assistant is "model".
                string? system = null;
                w.Add(bos ?? "");
                foreach (var m in messages)
                {
                    if (m.Role == "system") { system = m.Content; continue; }
                    string role = m.Role == "assistant" ? "model" : m.Role;
                    string content = system is not null && m.Role == "user" ? system + "\n\n" + m.Content : m.Content;
                    if (m.Role == "user") system = null;
                    w.Add("<start_of_turn>" + role + "\n");
                    w.Turn(m, content.Trim(), "<end_of_turn>");
                    w.Add("\n");
                }
                if (generationPrompt) w.Add("<start_of_turn>model\n");
                break;
            }
            default: // plain: the prompt ends at "Assistant:", so the reply is " text\n"
                foreach (var m in messages)
                {
                    if (m.Role == "assistant") { w.Add("Assistant:"); w.Turn(m, " " + m.Content, "\n"); continue; }
                    w.Add((m.Role == "user" ? "User: " : "") + m.Content + "\n");
                }
                if (generationPrompt) w.Add("Assistant:");
                break;
        }
        return w.Pieces;
    }

    sealed class PieceWriter
    {
        public readonly List<ChatPiece> Pieces = [];

        public void Add(string text, bool trainable = false)
        {
            if (text.Length == 0) return;
            if (Pieces.Count > 0 && Pieces[^1].Trainable == trainable) Pieces[^1] = new(Pieces[^1].Text + text, trainable);
            else Pieces.Add(new(text, trainable));
        }

        // A message's body and its end marker: trainable when the assistant wrote it.
        public void Turn(ChatMessage m, string body, string end) => Add(body + end, m.Role == "assistant");
    }
}
