"""What a result says, in words, tables and figures: pure functions from summaries to text and matplotlib figures.

May import: errors, seeds, config, problems, model, train, stats, sweep, rundir (names only). Never writes files
and never imports TensorFlow.

- `findings`: every sentence about a run's or a sweep's verdicts, generated from its numbers.
- `report`: a summary's sections rendered for the terminal, Markdown and HTML.
- `plots`: the figures, drawn from arrays on matplotlib Figures (no pyplot state), and a compare run's set of them.
- `sweep`: a sweep's sections, per-cell tables and figures over the swept axes.
- `gate`: the regression gate's verdict as the terminal's table, JUnit XML and Markdown for CI, and a study's
  differences in words.
- `transferability`: which source model will transfer: the report's section on the scores and their figure.
- `setups`: which score to trust across a sweep's setups: the sentences, the win-rate tables and three figures.
- `recommendation`: `rank-sources`' answer in words: the short list, the realised means, the pick in a sentence.
- `glossary`: the glossary (docs/glossary.md, shipped beside it) that every report carries inside itself.
"""
