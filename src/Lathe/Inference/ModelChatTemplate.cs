using Lathe.Formats;
using Lathe.Formats.Jinja;

namespace Lathe.Inference;

/// <summary>The chat template a loaded model's prompts are rendered with: a GGUF file's own Jinja program
/// (tokenizer.chat_template) run by Lathe's interpreter, with the file's BOS and EOS token texts; otherwise the
/// template family its markers name (ChatML when it has none).</summary>
public static class ModelChatTemplate
{
    /// <exception cref="InvalidDataException">The GGUF's template cannot be run: one line naming the file, the key, the
    /// construct and its line.</exception>
    public static ChatTemplate For(LoadedModel model)
    {
        if (model.Format != "gguf" || string.IsNullOrWhiteSpace(model.ChatTemplate)) return ChatTemplate.Detect(model.ChatTemplate);
        try { return ChatTemplate.FromJinja(model.ChatTemplate, TokenText(model, model.BosId), TokenText(model, model.EosId)); }
        catch (JinjaException e) { throw new InvalidDataException($"{model.Source}: tokenizer.chat_template: {e.Message}", e); }
    }

    static string? TokenText(LoadedModel model, int? id)
    {
        if (id is not int i) return null;
        foreach (var (text, tokenId) in model.Tokenizer.SpecialTokens) if (tokenId == i) return text;
        return null;
    }
}
