using System.Text;

namespace Lathe.Inference;

/// <summary>A message of a conversation.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>How a conversation is laid out as text for a chat model. GGUF files carry their template as a Jinja
/// program (<c>tokenizer.chat_template</c>); like llama.cpp's built-in templates, Lathe recognises the common
/// families by their marker strings and renders them natively instead of interpreting Jinja. A model without a
/// template (Lathe's own pre-trained models) gets ChatML, the documented default.</summary>
public sealed class ChatTemplate
{
    /// <summary>chatml, llama3, llama2, mistral, zephyr, phi3, gemma or plain.</summary>
    public string Name { get; }
    /// <summary>Strings that end an assistant turn (generation stops on them as stop strings or special tokens).</summary>
    public IReadOnlyList<string> EndOfTurn { get; }

    ChatTemplate(string name, params string[] endOfTurn) { Name = name; EndOfTurn = endOfTurn; }

    public static readonly string[] Names = ["chatml", "llama3", "llama2", "mistral", "zephyr", "phi3", "gemma", "plain"];

    /// <summary>A template by name; one-line error naming the choices otherwise.</summary>
    public static ChatTemplate Named(string name) => name switch
    {
        "chatml" => new("chatml", "<|im_end|>"),
        "llama3" => new("llama3", "<|eot_id|>"),
        "llama2" => new("llama2", "</s>"),
        "mistral" => new("mistral", "</s>"),
        "zephyr" => new("zephyr", "</s>"),
        "phi3" => new("phi3", "<|end|>"),
        "gemma" => new("gemma", "<end_of_turn>"),
        "plain" => new("plain", "\nUser:"),
        _ => throw new ArgumentException($"chat template '{name}' is not one of {string.Join(", ", Names)}."),
    };

    /// <summary>The family of a Jinja template by its markers (null or empty → ChatML). A template none of the known
    /// families matches is an error naming what was seen, rather than a silently wrong prompt.</summary>
    public static ChatTemplate Detect(string? jinja)
    {
        if (string.IsNullOrWhiteSpace(jinja)) return Named("chatml");
        if (jinja.Contains("<|im_start|>")) return Named("chatml");
        if (jinja.Contains("<|start_header_id|>")) return Named("llama3");
        if (jinja.Contains("<start_of_turn>")) return Named("gemma");
        if (jinja.Contains("<|end|>") && jinja.Contains("<|assistant|>")) return Named("phi3");
        if (jinja.Contains("<|user|>")) return Named("zephyr");
        if (jinja.Contains("<<SYS>>")) return Named("llama2");
        if (jinja.Contains("[INST]")) return Named("mistral");
        throw new InvalidDataException($"tokenizer.chat_template: unrecognised template family (known: {string.Join(", ", Names)}); pass --template NAME.");
    }

    /// <summary>The prompt text for <paramref name="messages"/>, ending with the opening of the assistant's turn.
    /// <paramref name="bos"/> is prepended where the family writes it as text (null: the tokenizer adds it).</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, string? bos = null)
    {
        var s = new StringBuilder();
        switch (Name)
        {
            case "chatml":
                foreach (var m in messages) s.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
                s.Append("<|im_start|>assistant\n");
                break;
            case "llama3":
                s.Append(bos ?? "");
                foreach (var m in messages) s.Append("<|start_header_id|>").Append(m.Role).Append("<|end_header_id|>\n\n").Append(m.Content.Trim()).Append("<|eot_id|>");
                s.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
                break;
            case "llama2":
            case "mistral":
            {
                // [INST] user [/INST] assistant</s> …; llama2 folds the system prompt into the first user turn.
                string? system = null;
                bool first = true;
                foreach (var m in messages)
                {
                    if (m.Role == "system") { system = m.Content; continue; }
                    if (m.Role == "user")
                    {
                        s.Append(bos ?? "").Append("[INST] ");
                        if (system is not null && first) s.Append(Name == "llama2" ? $"<<SYS>>\n{system}\n<</SYS>>\n\n" : system + "\n\n");
                        s.Append(m.Content.Trim()).Append(" [/INST]");
                        first = false;
                    }
                    else s.Append(' ').Append(m.Content.Trim()).Append("</s>");
                }
                break;
            }
            case "zephyr":
                foreach (var m in messages) s.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content).Append("</s>\n");
                s.Append("<|assistant|>\n");
                break;
            case "phi3":
                foreach (var m in messages) s.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content).Append("<|end|>\n");
                s.Append("<|assistant|>\n");
                break;
            case "gemma":
            {
                // No system role: it is prepended to the first user turn; the assistant is "model".
                string? system = null;
                s.Append(bos ?? "");
                foreach (var m in messages)
                {
                    if (m.Role == "system") { system = m.Content; continue; }
                    string role = m.Role == "assistant" ? "model" : m.Role;
                    string content = system is not null && m.Role == "user" ? system + "\n\n" + m.Content : m.Content;
                    if (m.Role == "user") system = null;
                    s.Append("<start_of_turn>").Append(role).Append('\n').Append(content.Trim()).Append("<end_of_turn>\n");
                }
                s.Append("<start_of_turn>model\n");
                break;
            }
            default: // plain
                foreach (var m in messages)
                    s.Append(m.Role switch { "system" => "", "user" => "User: ", _ => "Assistant: " }).Append(m.Content).Append('\n');
                s.Append("Assistant:");
                break;
        }
        return s.ToString();
    }
}
