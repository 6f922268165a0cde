from storycoach.cli import main

main()
