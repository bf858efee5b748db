using Lathe.Inference;
using Lathe.Knowledge;
using Lathe.Knowledge.Grounding;

namespace Lathe.Server.OpenAi;

/// <summary>What <c>serve --kg</c> does to a chat request: the plan for its last user message
/// (<see cref="KgGrounding.Plan"/>) becomes a system message of facts just before that message, and the plan's answer
/// constraint the reply's — through the same <see cref="GenerationRequest.Constraint"/> a JSON schema uses. When the
/// graph cannot answer (the question names no entity of it, or it has no such fact) the reply is constrained to
/// <see cref="GroundedPrompt.Abstain"/>. A request with its own constraint (tools, a response format) keeps it: the
/// facts are still added, the answer is not constrained.</summary>
internal static class KnowledgeBinding
{
    public static (IReadOnlyList<ChatInputMessage> Messages, Func<ILogitsProcessor>? Constraint) Apply(ChatRequest r, ServedModel model)
    {
        if (model.Grounding is not { } grounding) return (r.Messages, null);
        int last = -1;
        for (int i = r.Messages.Count - 1; i >= 0 && last < 0; i--)
            if (r.Messages[i].Role == "user") last = i;
        if (last < 0 || string.IsNullOrWhiteSpace(r.Messages[last].Content)) return (r.Messages, null);
        // The facts take what the context leaves beside the conversation and the reply (16 tokens for the system
        // message's own markup).
        int conversation = model.Loaded.Encode(model.Template.Render(ConstraintBinding.TemplateMessages(r.Messages))).Length;
        int reply = r.Generation.MaxTokens ?? 0;
        int room = Math.Max(0, model.Engine.ContextLength - conversation - reply - 16);
        var plan = grounding.Plan(r.Messages[last].Content!, model.GroundingMode, room);
        bool ownConstraint = r.Constraints.UsesTools || r.Constraints.ResponseFormat != "text";
        Func<ILogitsProcessor>? constraint = ownConstraint ? null
            : plan.AbstainNow ? KgAnswerConstraint.For(model.Loaded.Tokenizer, [], model.GroundingStops, allowAbstain: true)
            : plan.Constraint;
        if (plan.Facts.Count == 0) return (r.Messages, constraint);
        var messages = r.Messages.ToList();
        string facts = "Facts:\n" + string.Join("\n", plan.Facts.Select(f => "- " + f));
        messages.Insert(last, new ChatInputMessage("system", facts));
        return (messages, constraint);
    }
}
