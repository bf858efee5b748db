using Lathe.Alignment;
using Lathe.Formats;

namespace Lathe.Tests.Alignment;

/// <summary>A chat judge (an instruction-tuned model, or one fine-tuned on `align judge-data`): the judge prompt without
/// its cue is the user's message, the verdict the first token of the reply; the judge's training conversations are
/// the same text with the better letter as the reply, in both orders.</summary>
public class AiJudgeChatTests
{
    [Fact]
    public void A_chat_judge_is_asked_through_its_template_and_its_training_data_matches()
    {
        using var model = RejectionSamplingTests.Tiny(8, context: 512);
        var chatml = ChatTemplate.Named("chatml");
        var judge = new ModelJudge(model, chat: chatml);
        string prompt = AiFeedback.JudgePrompt("Be right.", [new ChatMessage("user", "2+2?")], "4", "5");
        Assert.EndsWith("Which response is better? Answer: ", prompt);
        string asked = judge.Text(prompt);
        Assert.Equal(chatml.Render([new ChatMessage("user", prompt[..^" Answer: ".Length])]), asked);
        var (ids, a, b) = judge.Encode(prompt);
        Assert.Equal(model.Encode(asked), ids);
        Assert.Equal(((int)'A', (int)'B'), (a, b));   // byte tokens: the reply's first token is the letter
        Assert.Equal(prompt, new ModelJudge(model).Text(prompt));   // a plain judge reads the prompt as it is

        var pair = new PreferencePair([new ChatMessage("user", "2+2?")], "4", "5", "arith");
        var conversations = AiFeedback.JudgeConversations("Be right.", [pair]).ToList();
        Assert.Equal(2, conversations.Count);
        Assert.Equal(AiFeedback.WithoutCue(prompt), conversations[0].Messages[0].Content);   // chosen shown first → "A"
        Assert.Equal("A", conversations[0].Messages[1].Content);
        Assert.Equal(AiFeedback.WithoutCue(AiFeedback.JudgePrompt("Be right.", pair.Prompt, "5", "4")), conversations[1].Messages[0].Content);
        Assert.Equal("B", conversations[1].Messages[1].Content);
        // Rendered for training, the user turn is exactly what the judge is asked, and the reply starts with the letter.
        string trained = string.Concat(chatml.RenderForTraining(conversations[0].Messages).Select(p => p.Text));
        Assert.StartsWith(asked + "A", trained);
    }
}
