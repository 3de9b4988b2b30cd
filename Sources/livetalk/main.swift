import ArgumentParser; import App
