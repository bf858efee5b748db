using Lathe.Inference;
using Lathe.Knowledge;
using Lathe.Knowledge.Experiment;
using Lathe.Knowledge.Experiment.Arms;

namespace Lathe.Tests.Knowledge.Experiment;

/// <summary>The arms' logic over a fake model and a fake grounding: which prompt each arm sends, that the constrained
/// arm abstains without asking the model when the plan says so, that the checked arm replaces contradicted answers and
/// answers about unknown entities and reuses the alone arm's answers.</summary>
public class ArmTests
{
    // Answers "A:" + the prompt's last line's question, with a confidence that says which prompt it saw.
    sealed class FakeModel : IAnswerGenerator
    {
        public List<AnswerRequest> Seen { get; } = [];
        public Func<AnswerRequest, GeneratedAnswer> Reply { get; init; } = r => new(r.Prompt.StartsWith("Facts:") ? "grounded" : "guess", 0.5);
        public IReadOnlyList<GeneratedAnswer> Generate(IReadOnlyList<AnswerRequest> requests)
        {
            Seen.AddRange(requests);
            return requests.Select(Reply).ToList();
        }
    }

    sealed class FakeGrounding : IQuestionGrounding
    {
        public static readonly Func<ILogitsProcessor> Constraint = () => throw new InvalidOperationException("not run by the fake model");
        public string RetrievalPrompt(string question) => GroundedPrompt.Format(question, ["fact about " + question]);
        public ConstrainedPlan Plan(string question) => question.Contains("Veloria")
            ? new ConstrainedPlan("", null, true, "no entity")
            : new ConstrainedPlan(RetrievalPrompt(question), Constraint, false, null);
        public AnswerCheck Check(string question, string answer) =>
            question.Contains("Veloria") ? AnswerCheck.Unbacked : answer == "Lyon" ? AnswerCheck.Contradicted : AnswerCheck.Keep;
    }

    static readonly QuestionRow France = new("capital|country/FRA|0", "What is the capital of France?", "country/FRA", "capital", ["Paris"], true, 0);
    static readonly QuestionRow Spain = new("capital|country/ESP|0", "What is the capital of Spain?", "country/ESP", "capital", ["Madrid"], true, 0);
    static readonly QuestionRow Veloria = new("capital|Veloria|0", "What is the capital of Veloria?", "Veloria", "capital", [], false, 0);
    static readonly QuestionRow[] Questions = [France, Spain, Veloria];

    [Fact]
    public void Alone_sends_the_plain_prompt_and_retrieval_the_facts()
    {
        var model = new FakeModel();
        var arms = HallucinationArms.Create(["alone", "retrieval"], model, new FakeGrounding());
        var alone = arms[0].Answer(Questions);
        Assert.Equal(Questions.Select(q => $"Question: {q.Question}\nAnswer:"), model.Seen.Select(r => r.Prompt));
        Assert.All(alone, a => Assert.Equal(("guess", 0.5, false), (a.Answer, a.Confidence, a.Abstained)));
        model.Seen.Clear();
        var retrieval = arms[1].Answer(Questions);
        Assert.Equal(Questions.Select(q => $"Facts:\n- fact about {q.Question}\nQuestion: {q.Question}\nAnswer:"), model.Seen.Select(r => r.Prompt));
        Assert.All(retrieval, a => Assert.Equal("grounded", a.Answer));
        Assert.All(model.Seen, r => Assert.Null(r.Constraint));
    }

    [Fact]
    public void Constrained_abstains_without_the_model_when_the_plan_says_so_and_passes_the_constraint_otherwise()
    {
        var model = new FakeModel();
        var answers = HallucinationArms.Create(["constrained"], model, new FakeGrounding())[0].Answer(Questions);
        Assert.Equal(2, model.Seen.Count);
        Assert.All(model.Seen, r => Assert.Same(FakeGrounding.Constraint, r.Constraint));
        Assert.Equal([false, false, true], answers.Select(a => a.Abstained));
        Assert.Equal(GroundedPrompt.Abstain, answers[2].Answer);
        Assert.Equal(Questions, answers.Select(a => a.Question));
    }

    [Fact]
    public void Checked_replaces_contradicted_and_unknown_entity_answers_and_reuses_the_alone_answers()
    {
        var model = new FakeModel { Reply = r => new(r.Prompt.Contains("France") ? "Lyon" : r.Prompt.Contains("Spain") ? "Madrid" : "Velor City", 0.7) };
        var arms = HallucinationArms.Create(["alone", "checked"], model, new FakeGrounding());
        var alone = arms[0].Answer(Questions);
        var check = arms[1].Answer(Questions);
        Assert.Equal(3, model.Seen.Count);   // checked asked the model nothing new
        Assert.Equal(["Lyon", "Madrid", "Velor City"], alone.Select(a => a.Answer));
        Assert.Equal([GroundedPrompt.Abstain, "Madrid", GroundedPrompt.Abstain], check.Select(a => a.Answer));
        Assert.Equal([true, false, true], check.Select(a => a.Abstained));
        // The metrics see it: alone hallucinates twice, checked never, at the same accuracy.
        var before = HallucinationMetrics.Compute(alone, 0);
        var after = HallucinationMetrics.Compute(check, 0);
        Assert.Equal((2.0 / 3, 0.0), (before.Hallucination.Value, after.Hallucination.Value));
        Assert.Equal(before.Accuracy.Value, after.Accuracy.Value);
    }

    [Fact]
    public void A_model_that_says_it_does_not_know_abstains_and_unknown_arm_names_are_refused()
    {
        var model = new FakeModel { Reply = _ => new("I don't know.", 0.9) };
        Assert.All(HallucinationArms.Create(["alone"], model, new FakeGrounding())[0].Answer(Questions), a => Assert.True(a.Abstained));
        // An empty line claims nothing: counted with the abstentions, not as a hallucination.
        var silent = HallucinationArms.Create(["alone"], new FakeModel { Reply = _ => new(" . ", 0.9) }, new FakeGrounding())[0].Answer(Questions);
        Assert.All(silent, a => Assert.True(a.Abstained && !a.Hallucinated && !a.Correct));
        Assert.Equal("arms: 'oracle' is not one of alone, retrieval, constrained, checked",
            Assert.Throws<ArgumentException>(() => HallucinationArms.Create(["alone", "oracle"], model, new FakeGrounding())).Message);
        Assert.Equal("arms: 'alone' is named twice", Assert.Throws<ArgumentException>(() => HallucinationArms.Create(["alone", "alone"], model, new FakeGrounding())).Message);
    }
}
