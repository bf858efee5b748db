namespace Lathe.Knowledge.Experiment;

/// <summary>One line of QA tuning data in <c>lathe finetune</c>'s prompt/completion shape.</summary>
public sealed record QaExample(string Prompt, string Completion);

/// <summary>The QA tuning data of a question set's training questions. Each answerable question twice: the plain
/// prompt (<see cref="GroundedPrompt.Format"/>) and the prompt with retrieved facts, both completed by " answer\n"
/// (the first acceptable answer). An unanswerable question only with the retrieval prompt — whose facts are empty, the
/// graph knowing nothing of an invented name — completed by the abstention: a plain model is not taught to abstain,
/// because a model alone cannot know what it does not know; that it learns to anyway is the scaling camp's bet, and
/// is measured as it is. Then the copy drills, which teach answering from the facts of a prompt.</summary>
public static class QaTrainingData
{
    /// <param name="retrievalPrompt">The retrieval arm's prompt for a question, so tuning and evaluation read the
    /// same text.</param>
    /// <param name="drills">Copy drills (<see cref="QuestionSet.CopyDrills"/>), each one more retrieval-shaped
    /// example after the questions.</param>
    public static IEnumerable<QaExample> Build(IEnumerable<QuestionRow> train, Func<QuestionRow, string> retrievalPrompt, IEnumerable<CopyDrill>? drills = null)
    {
        foreach (var row in train)
        {
            if (row.Answerable)
            {
                string completion = " " + row.Answers[0] + GroundedPrompt.AnswerEnd;
                yield return new QaExample(GroundedPrompt.Format(row.Question), completion);
                yield return new QaExample(retrievalPrompt(row), completion);
            }
            else yield return new QaExample(retrievalPrompt(row), " " + GroundedPrompt.Abstain + GroundedPrompt.AnswerEnd);
        }
        foreach (var drill in drills ?? [])
            yield return new QaExample(GroundedPrompt.Format(drill.Question, drill.Facts), " " + drill.Answer + GroundedPrompt.AnswerEnd);
    }
}
